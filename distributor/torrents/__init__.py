"""Torrents at publish: the publish step that makes a version's torrent, and the torrent store.

Importing this package does not load libtorrent; the step imports `swarm.torrent_maker` only when
it runs.
"""
