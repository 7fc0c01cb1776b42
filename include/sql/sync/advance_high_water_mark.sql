-- High-water marks only move forward, in the same transaction as the data they describe.
INSERT INTO books.sync_state AS st (module, high_water_mark, last_run_id, updated_at)
VALUES (:module, :high_water_mark, :run_id, :now)
ON CONFLICT (module) DO UPDATE SET
    high_water_mark = CASE
        WHEN st.high_water_mark IS NULL THEN excluded.high_water_mark
        WHEN excluded.high_water_mark IS NOT NULL AND excluded.high_water_mark > st.high_water_mark
            THEN excluded.high_water_mark
        ELSE st.high_water_mark END,
    last_run_id = excluded.last_run_id,
    updated_at = excluded.updated_at
