-- Every stored key: a full refresh regroups all customers from scratch.
DELETE FROM books.duplicate_match_keys
