"""The service layer above the engine: work that outlives one request (background indexing and
watching, index jobs and their workers) and the engines a server keeps open per project."""
