"""Chunks at publish: the publish step that chunks a version into the chunk store, and the store
the `/v1/chunks` route serves from."""
