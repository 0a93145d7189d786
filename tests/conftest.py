"""Shared pytest plugins: fixtures live in tests/fixtures/."""

pytest_plugins = [
    "tests.fixtures.distributor_server",
    "tests.netns.fixtures",
]
