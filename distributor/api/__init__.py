"""The HTTP API of the distributor (FastAPI). Build it with `create_app(settings)`."""
