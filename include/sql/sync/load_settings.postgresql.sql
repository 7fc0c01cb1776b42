-- Settings of the load's transaction (they end with it). No JIT: the planner's estimate for the
-- contact-person upsert (a per-row EXISTS on contact_persons, which has no statistics yet on a
-- first import) is high enough to compile it, and at 200,000 records compiling took 0.45-1.3 s
-- of its 2.1-4.8 s (EXPLAIN ANALYZE), more than the compiled code saved (1.66 s without JIT
-- against 2.35 s with it). No other load statement is compiled.
SET LOCAL jit = off;
-- Memory for the load's sorts and hashes (it ends with the transaction too): with the default
-- 4 MB, upsert_contact_persons sorted its arriving rows on disk (external merge, 6 MB at 100,000
-- records) and the anti-joins of staging against the targets ran in batches.
SET LOCAL work_mem = '64MB'
