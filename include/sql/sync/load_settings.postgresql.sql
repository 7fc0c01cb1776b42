-- Settings of the load's transaction (they end with it). No JIT: the planner's estimate for the
-- contact-person upsert (a per-row EXISTS on contact_persons, which has no statistics yet on a
-- first import) is high enough to compile it, and at 200,000 records compiling took 0.45-1.3 s
-- of its 2.1-4.8 s (EXPLAIN ANALYZE), more than the compiled code saved (1.66 s without JIT
-- against 2.35 s with it). No other load statement is compiled.
SET LOCAL jit = off
