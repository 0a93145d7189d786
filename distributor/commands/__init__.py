"""The `distributor` subcommands, one module each; `distributor.cli` parses and dispatches."""
