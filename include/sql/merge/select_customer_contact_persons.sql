-- Contact persons of a customer, which a merge moves to the master.
SELECT contact_person_id
FROM books.contact_persons
WHERE customer_id = :customer_id
ORDER BY contact_person_id
