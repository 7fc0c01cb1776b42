-- Whether books.<table_name> holds any row yet (foreign_key_checked_after: a first import).
SELECT EXISTS (SELECT 1 FROM books.{{table_name}})
