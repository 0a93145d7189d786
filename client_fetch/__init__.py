"""The fetcher the task wrapper runs on each volunteer host: sources, verifier, host cache, CLI."""
