"""Delta patches at publish time: patches from the previous versions, stored as blobs."""
