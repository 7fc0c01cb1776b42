-- Totals of the listed sections, so the page can say when a list is cut short.
SELECT
    (SELECT COUNT(*) FROM books.estimates AS e
      WHERE (e.status <> e.workflow_status OR (e.workflow_status IS NULL AND EXISTS (
          SELECT 1 FROM books.workflow_events AS w
          WHERE w.document_type = 'estimate' AND w.document_id = e.estimate_id
            AND w.action = 'manual_edit'))))
  + (SELECT COUNT(*) FROM books.invoices AS i
      WHERE (i.status <> i.workflow_status OR (i.workflow_status IS NULL AND EXISTS (
          SELECT 1 FROM books.workflow_events AS w
          WHERE w.document_type = 'invoice' AND w.document_id = i.invoice_id
            AND w.action = 'manual_edit')))) AS locked_documents,
    (SELECT COUNT(*) FROM books.deals WHERE state = 'pending') AS pending_deals,
    (SELECT COUNT(*) FROM books.rejected_records) AS rejected_records,
    (SELECT COUNT(DISTINCT group_key) FROM books.duplicate_candidates
      WHERE status = 'open') AS duplicate_groups
