"""Chunks at publish: the publish step that chunks a version into pack files, and the pack store
(packs plus where each chunk's frame lives) the `/v1/packs` and `/v1/chunks` routes serve from."""
