SELECT module, high_water_mark, deleted_high_water_mark FROM books.sync_state WHERE module = :module
