-- Nothing to do on SQLite: the engine's BEGIN IMMEDIATE already holds the database's write lock,
-- so one refresher at a time.
SELECT 1
