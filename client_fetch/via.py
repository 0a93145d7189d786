"""The `--via` choices, in a module of their own so the CLI parser can import them cheaply."""

VIA_CHOICES = ("auto", "http", "swarm", "delta", "chunks")
