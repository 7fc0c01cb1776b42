-- Reserves the next count numbers; the row lock holds until commit, so numbers stay sequential.
UPDATE books.document_sequences
SET last_value = last_value + :count
WHERE document_type = :document_type
RETURNING last_value
