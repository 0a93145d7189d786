"""The only package that imports libtorrent (session wrapper, torrent making, status records).

Empty until the swarm issue: the first whole path moves images over plain HTTP only.
"""
