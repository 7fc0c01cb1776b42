-- Give back the slot try_call_slot took for this session (false if this session did not hold it).
SELECT pg_advisory_unlock(CAST(:lock_key AS integer), CAST(:slot AS integer))
