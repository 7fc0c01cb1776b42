-- Each reject names the CRM version it refuses: the Modified_Time of the newest extracted version
-- of its record (the one transformed), part of the key it is filed under.
UPDATE books.stg_rejects
SET crm_modified_time = (
    SELECT MAX(r.modified_time) FROM books.stg_crm_records AS r
    WHERE r.run_id = stg_rejects.run_id AND r.module = stg_rejects.module
      AND r.crm_id = stg_rejects.crm_id
)
WHERE run_id = :run_id
