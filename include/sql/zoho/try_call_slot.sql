-- Take a free slot of the org's cap on calls in flight for this session (the limiter's own
-- connection): the first of the :slots advisory locks (:lock_key, slot) that nobody holds, trying
-- from :first_slot on. No row: every slot is held. Session-level, so the slot is held until
-- release_call_slot, or until the session ends (a killed process frees its slot). The scan stops at
-- the first lock taken (LIMIT 1 over a plain filter, no sort), so one call never holds two slots.
-- The two-integer form of the lock lives apart from the one-bigint locks of the warehouse and the
-- token store.
SELECT slot
FROM (SELECT CAST(mod(:first_slot + n, :slots) AS integer) AS slot
      FROM generate_series(0, :slots - 1) AS n) AS candidates
WHERE pg_try_advisory_lock(CAST(:lock_key AS integer), slot)
LIMIT 1
