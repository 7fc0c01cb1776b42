-- Each customer with contact persons has exactly one primary: the earliest, unless one is set.
UPDATE books.contact_persons SET is_primary_contact = TRUE
WHERE contact_person_id IN (
    SELECT MIN(contact_person_id) FROM books.contact_persons
    GROUP BY customer_id
    HAVING SUM(CASE WHEN is_primary_contact THEN 1 ELSE 0 END) = 0
)
