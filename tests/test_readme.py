"""The README documents every setting of every deployable, and starts with the two commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from client_fetch.settings import ClientSettings
from distributor.settings import DistributorSettings
from seeder.settings import SeederSettings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("settings", "prefix"),
    [
        (DistributorSettings, "DISTRIBUTOR_"),
        (ClientSettings, "CLIENT_FETCH_"),
        (SeederSettings, "SEEDER_"),
    ],
)
def test_every_setting_is_documented(settings: type[BaseSettings], prefix: str) -> None:
    missing = [
        f"{prefix}{name.upper()}"
        for name in settings.model_fields
        if f"`{prefix}{name.upper()}`" not in README
    ]
    assert not missing, f"README lacks {missing}"


def test_readme_starts_with_the_two_commands_ci_runs() -> None:
    first_block = README.split("```")[1].strip().splitlines()
    assert first_block[0] == "sh"
    commands = first_block[1:]
    assert len(commands) == 2
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci
