-- B5: a contact deleted in the CRM leaves its customer's contact persons (and the waiting list).
DELETE FROM books.contact_persons
WHERE crm_contact_id IN (SELECT crm_id FROM books.crm_deletions WHERE module = 'Contacts');
DELETE FROM books.pending_contact_persons
WHERE crm_contact_id IN (SELECT crm_id FROM books.crm_deletions WHERE module = 'Contacts')
