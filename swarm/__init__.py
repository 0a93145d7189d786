"""The only package that imports libtorrent: torrent making, a session wrapper, status records.

Importing `swarm`, `swarm.config`, `swarm.errors` or `swarm.tracker_watch` does not load
libtorrent; `swarm.session`, `swarm.download` and `swarm.torrent_maker` do. The distributor
imports the torrent maker lazily, only when it publishes.
"""
