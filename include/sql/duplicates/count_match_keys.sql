-- Whether any keys are stored: with none (a first run, or after a full refresh), flag_duplicates
-- groups every active customer at once instead of looking up who shares a changed key.
SELECT COUNT(*) FROM (SELECT 1 FROM books.duplicate_match_keys LIMIT 1) AS k
