-- What stage_contact_moves decided for this run's moved contacts, for the run log.
SELECT
    SUM(CASE WHEN retire = 1 AND kept = 0 THEN 1 ELSE 0 END) AS deleted,
    SUM(CASE WHEN retire = 1 AND kept = 1 THEN 1 ELSE 0 END) AS inactivated,
    SUM(reactivate) AS reactivated,
    SUM(person_removed) AS persons_removed,
    SUM(held_removed) AS held_removed
FROM books.stg_contact_moves
WHERE run_id = :run_id
