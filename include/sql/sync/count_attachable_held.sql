-- Held contact persons whose account customer now exists: what upsert_contact_persons is given
-- when it attaches them (its RETURNING counts what it inserted or updated; the rest is unchanged).
SELECT COUNT(*) FROM books.attachable_held_contact_persons
