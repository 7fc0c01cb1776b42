"""CRM -> Books: the library behind the crm_books_sync, potential_reconcile and merge DAGs."""
