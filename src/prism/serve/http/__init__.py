"""The PRISM team server: a FastAPI app (create_app) with keys, JWT, roles, rate limits and one error shape."""
