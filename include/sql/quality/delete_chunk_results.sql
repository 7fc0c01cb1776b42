-- An earlier attempt's results of this chunk, replaced by this attempt's.
DELETE FROM books.quality_results
WHERE run_id = :run_id AND module = :module AND chunk_after = :after_crm_id
