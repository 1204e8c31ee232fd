"""The service layer above the engine: work that outlives one request (index jobs, background indexing)."""
