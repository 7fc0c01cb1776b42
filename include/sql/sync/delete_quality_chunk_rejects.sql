-- The rejects an earlier attempt of this quality-gate chunk filed, so a retried chunk files them once.
DELETE FROM books.stg_rejects
WHERE run_id = :run_id AND stage = 'quality' AND module = :module
  AND crm_id > :after_crm_id AND crm_id <= COALESCE(CAST(:until_crm_id AS TEXT), crm_id)
