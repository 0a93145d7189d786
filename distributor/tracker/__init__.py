"""The BitTorrent tracker inside the distributor: announce and scrape for the catalog's torrents.

Entry point: `Tracker` (service.py). Pieces: `query` (raw query parsing), `torrent_index` (which
info-hashes exist), `registry` (peers and counters in memory), `responses` (bencoded answers).
"""
