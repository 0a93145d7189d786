"""Pure formats shared by the distributor, the seeder and the fetcher.

Nothing here does network or process I/O: names, digests, manifests and their signatures, and the
content layout (URL paths and on-disk paths) that server and client agree on.
"""
