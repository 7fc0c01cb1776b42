INSERT INTO books.sync_state AS st (module, deleted_high_water_mark, last_run_id, updated_at)
VALUES (:module, :deleted_high_water_mark, :run_id, :now)
ON CONFLICT (module) DO UPDATE SET
    deleted_high_water_mark = CASE
        WHEN st.deleted_high_water_mark IS NULL THEN excluded.deleted_high_water_mark
        WHEN excluded.deleted_high_water_mark IS NOT NULL
             AND excluded.deleted_high_water_mark > st.deleted_high_water_mark
            THEN excluded.deleted_high_water_mark
        ELSE st.deleted_high_water_mark END,
    updated_at = excluded.updated_at
