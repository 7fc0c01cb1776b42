"""The customer sync (crm_books_sync): extract, map, validate, load, delete, flag, merge."""
