-- A first import's settings (books.customers has no rows when the load starts; they end with
-- the transaction). No nested loops: each write into a table also checks, per staged row, that
-- the row is not there yet (NOT EXISTS on customers, the held list's LEFT JOIN on itself). When
-- the empty table has been analysed (a manual ANALYZE, vacuumdb, a managed server's routine),
-- PostgreSQL trusts its zero rows and plans those checks as a nested loop over a scan of the
-- table, which the statement itself fills as it goes: every staged row then rescans all rows
-- inserted before it (at 1M records the customers INSERT ran for more than 47 minutes instead of
-- 3 s). Every join of a first import is large, which hash joins suit anyway.
SET LOCAL enable_nestloop = off
