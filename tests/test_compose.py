"""docker-compose.yml runs only commands this package installs, with flags and settings that exist.

The stack itself is not started here (no Docker daemon in CI); this catches the drift that breaks
it: a renamed subcommand or flag, an environment variable no settings field reads.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from distributor.settings import DistributorSettings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SCRIPTS: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def _commands(service: dict[str, Any]) -> list[list[str]]:
    """Each program invocation of a service: a list command, or the parts of `sh -c 'a && b'`."""
    command = service.get("command")
    if command is None:
        return []
    argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    if argv[:2] == ["sh", "-c"]:
        return [shlex.split(part) for part in re.split(r"&&|;", argv[2]) if part.strip()]
    return [argv]


def _script_argv(name: str) -> list[str]:
    """The installed console script, else its entry point run by this Python."""
    installed = Path(sys.executable).parent / name
    if installed.exists():
        return [str(installed)]
    module, function = SCRIPTS[name].split(":")
    code = f"import sys; from {module} import {function}; sys.exit({function}())"
    return [sys.executable, "-c", code]


ALL_COMMANDS = [
    (service_name, argv)
    for service_name, service in COMPOSE["services"].items()
    for argv in _commands(service)
]


def test_every_service_runs_something() -> None:
    for name, service in COMPOSE["services"].items():
        assert _commands(service) or "healthcheck" in service, name


@pytest.mark.parametrize(("service", "argv"), ALL_COMMANDS, ids=[s for s, _ in ALL_COMMANDS])
def test_commands_are_console_scripts_with_existing_subcommands_and_flags(
    service: str, argv: list[str]
) -> None:
    assert argv[0] in SCRIPTS, f"{service}: {argv[0]} is not a console script of this package"
    done = subprocess.run(
        [*_script_argv(argv[0]), *argv[1:], "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"{service}: {' '.join(argv)} --help failed: {done.stderr}"
    for flag in (arg for arg in argv[1:] if arg.startswith("--")):
        assert flag.split("=")[0] in done.stdout, f"{service}: unknown flag {flag}"


def test_environment_variables_are_settings_fields() -> None:
    fields = set(DistributorSettings.model_fields)
    for name, service in COMPOSE["services"].items():
        for variable in service.get("environment", {}):
            assert variable.startswith("DISTRIBUTOR_"), f"{name}: {variable}"
            assert variable.removeprefix("DISTRIBUTOR_").lower() in fields, f"{name}: {variable}"


def test_admin_token_must_be_set_and_the_client_waits_for_a_healthy_server() -> None:
    services = COMPOSE["services"]
    assert services["distributor"]["environment"]["DISTRIBUTOR_ADMIN_TOKEN"].endswith(":?set it}")
    health = " ".join(services["distributor"]["healthcheck"]["test"])
    assert "python" in health and "/readiness" in health
    assert services["client"]["depends_on"]["distributor"]["condition"] == "service_healthy"
    client = _commands(services["client"])[0]
    assert client[client.index("--key") + 1] == "/keys/signing.pub"
    assert any(v.endswith(":/keys:ro") for v in services["client"]["volumes"])
    assert not any(v.split(":")[0] == "distributor-data" for v in services["client"]["volumes"])


def test_dockerfile_installs_the_server_extra_on_python_slim() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "FROM python:3.11-slim" in dockerfile.splitlines()
    assert 'pip install --no-cache-dir ".[server]"' in dockerfile
