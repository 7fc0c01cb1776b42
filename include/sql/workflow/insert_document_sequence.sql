INSERT INTO books.document_sequences (document_type, last_value)
VALUES (:document_type, 0)
ON CONFLICT (document_type) DO NOTHING
