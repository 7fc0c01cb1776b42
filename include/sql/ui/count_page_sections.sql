-- Totals of the listed sections, so the page can say when a list is cut short.
SELECT
    (SELECT COUNT(*) FROM books.locked_documents) AS locked_documents,
    (SELECT COUNT(*) FROM books.deals WHERE state = 'pending') AS pending_deals,
    (SELECT COUNT(*) FROM books.rejected_records) AS rejected_records,
    (SELECT COUNT(DISTINCT group_key) FROM books.duplicate_candidates
      WHERE status = 'open') AS duplicate_groups
