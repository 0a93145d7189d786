"""Content-addressed storage of published content (blobs, later chunks, deltas and torrents)."""
