-- The CRM ids one run's extract staged for a module, once per time it staged them.
SELECT crm_id
FROM books.stg_crm_records
WHERE run_id = :run_id AND module = :module
