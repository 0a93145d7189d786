"""Standalone benchmarks (`python -m bench.<name>`): each measures our tools against a baseline
tool run in the same process tree, on the same machine and file system, and prints the ratio.

Benchmarks import the installed packages (`distributor`, `client_fetch`, `image_format`) and the
standard library only; never anything from `tests/`.
"""
