SELECT COUNT(*) FROM books.duplicate_candidates
