-- Rows one quality-gate chunk refused get the raw JSON of the record version that was transformed
-- (transformed staging does not carry it; the reject log must).
UPDATE books.stg_rejects
SET raw_payload = COALESCE((
    SELECT r.payload FROM books.stg_crm_records AS r
    WHERE r.run_id = stg_rejects.run_id AND r.module = stg_rejects.module
      AND r.crm_id = stg_rejects.crm_id
    ORDER BY r.modified_time DESC
    LIMIT 1
), raw_payload)
WHERE run_id = :run_id AND stage = 'quality' AND module = :module
  AND crm_id > :after_crm_id AND crm_id <= COALESCE(CAST(:until_crm_id AS TEXT), crm_id)
