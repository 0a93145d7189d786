"""The project server: catalog, content store, publishing pipeline, HTTP API and CLI."""
