-- The newest version of each given deal filed as a reject (an expanding list): a version already
-- quarantined is no news to the sensor.
SELECT crm_id, MAX(crm_modified_time) AS crm_modified_time
FROM books.rejected_records
WHERE module = 'Deals' AND crm_id IN :deal_ids
GROUP BY crm_id
