SELECT COUNT(*) FROM books.contact_persons
WHERE crm_contact_id IN (SELECT crm_id FROM books.crm_deletions WHERE module = 'Contacts')
