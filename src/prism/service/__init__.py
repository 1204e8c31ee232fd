"""What runs around engines: background indexing and watching (later: job queue, workers, project catalog)."""
