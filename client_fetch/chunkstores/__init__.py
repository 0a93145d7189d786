"""Chunk stores: get / has / put one content-addressed chunk by id (the sha256 of its bytes).

Composites are stores too (desync's storerouter/cache idea): a `RouterStore` asks each store in
turn, a `CachingStore` keeps a local store in front of a remote one, a `FailoverGroup` treats
identical mirrors as one. `PackRangeStore` is the servers for one fetch: the chunks a target
misses, read as coalesced Range requests of pack files from identical `PackMirror`s;
`HttpChunkStore` asks one chunk URL at a time (indexes made before packs). Every store returns
verified, uncompressed bytes.
"""
