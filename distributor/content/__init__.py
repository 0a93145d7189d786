"""Serving stored content over HTTP: byte ranges, streaming responses, origin accounting."""
