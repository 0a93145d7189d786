"""docker-compose.yml runs only commands this package installs, with flags and settings that exist,
and wires the swarm the way it must be: a co-located seeder, client hosts fetching through the
swarm, torrents naming an address the hosts reach.

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
from pydantic_settings import BaseSettings

from client_fetch.settings import ClientSettings
from distributor.settings import DistributorSettings
from seeder.settings import SeederSettings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
PROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
SCRIPTS: dict[str, str] = PROJECT["scripts"]
SETTINGS: list[type[BaseSettings]] = [DistributorSettings, SeederSettings, ClientSettings]
SERVICES: dict[str, Any] = COMPOSE["services"]
SERVER = "http://distributor:8080"


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
    for service_name, service in SERVICES.items()
    for argv in _commands(service)
]


def test_every_service_runs_something() -> None:
    for name, service in SERVICES.items():
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
    for flag in (arg.split("=")[0] for arg in argv[1:] if arg.startswith("--")):
        # The exact option (argparse would also accept an abbreviation of a longer one).
        listed = re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", done.stdout)
        assert listed, f"{service}: unknown flag {flag}"


def _setting_of(variable: str) -> tuple[type[BaseSettings], str] | None:
    """The settings class whose env prefix `variable` has, and the field it would set."""
    for settings in SETTINGS:
        prefix = str(settings.model_config.get("env_prefix", ""))
        if prefix and variable.startswith(prefix):
            return settings, variable.removeprefix(prefix).lower()
    return None


ALL_VARIABLES = [
    (service_name, variable)
    for service_name, service in SERVICES.items()
    for variable in service.get("environment", {})
]


@pytest.mark.parametrize(
    ("service", "variable"), ALL_VARIABLES, ids=[f"{s}-{v}" for s, v in ALL_VARIABLES]
)
def test_environment_variables_are_settings_fields(service: str, variable: str) -> None:
    found = _setting_of(variable)
    assert found is not None, f"{service}: {variable} has no DISTRIBUTOR_/SEEDER_/CLIENT_FETCH_"
    settings, field = found
    assert field in settings.model_fields, f"{service}: {variable} is no {settings.__name__} field"


def _argument(argv: list[str], flag: str) -> str:
    assert flag in argv, f"{flag} missing from {argv}"
    return argv[argv.index(flag) + 1]


def _volume_at(service: dict[str, Any], path: str) -> str:
    """The named volume a service mounts at `path`."""
    for volume in service.get("volumes", []):
        source, _, rest = str(volume).partition(":")
        if rest.split(":")[0] == path:
            return source
    raise AssertionError(f"nothing mounted at {path}")


def _swarm_clients() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in SERVICES.items()
        if any(argv[:2] == ["client-fetch", "get"] for argv in _commands(service))
    }


def test_admin_token_must_be_set_and_the_clients_wait_for_a_healthy_server() -> None:
    assert SERVICES["distributor"]["environment"]["DISTRIBUTOR_ADMIN_TOKEN"].endswith(":?set it}")
    health = " ".join(SERVICES["distributor"]["healthcheck"]["test"])
    assert "python" in health and "/readiness" in health
    for name, service in _swarm_clients().items():
        assert service["depends_on"]["distributor"]["condition"] == "service_healthy", name
        assert service["depends_on"]["sample"]["condition"] == "service_completed_successfully"
        (argv,) = _commands(service)
        assert _argument(argv, "--key") == "/keys/signing.pub", name
        assert any(str(v).endswith(":/keys:ro") for v in service["volumes"]), name
        assert not any(str(v).split(":")[0] == "distributor-data" for v in service["volumes"])


def test_torrents_name_the_address_the_hosts_use_for_the_distributor() -> None:
    distributor = SERVICES["distributor"]
    (serve,) = _commands(distributor)
    public_url = distributor["environment"]["DISTRIBUTOR_PUBLIC_URL"]
    assert SERVER in public_url
    assert SERVER.endswith(":" + _argument(serve, "--port"))
    assert _argument(serve, "--host") == "0.0.0.0"
    (seeder,) = _commands(SERVICES["seeder"])
    assert _argument(seeder, "--distributor") == SERVER
    for name, service in _swarm_clients().items():
        assert _argument(_commands(service)[0], "--server") == SERVER, name


def test_the_seeder_is_co_located_and_authenticated() -> None:
    seeder = SERVICES["seeder"]
    (argv,) = _commands(seeder)
    assert argv[:2] == ["seeder", "run"]
    (serve,) = _commands(SERVICES["distributor"])
    data = _argument(argv, "--data")
    assert _volume_at(seeder, data) == _volume_at(
        SERVICES["distributor"], _argument(serve, "--data")
    )
    assert _argument(argv, "--key") == "/keys/signing.pub"
    assert _volume_at(seeder, "/keys") == "public-keys"
    assert _argument(argv, "--listen") == "0.0.0.0:6881"
    token = seeder["environment"]["SEEDER_DISTRIBUTOR_TOKEN"]
    assert token == SERVICES["distributor"]["environment"]["DISTRIBUTOR_ADMIN_TOKEN"]
    assert seeder["depends_on"]["distributor"]["condition"] == "service_healthy"


def test_two_client_hosts_fetch_through_the_swarm_each_with_its_own_cache() -> None:
    clients = _swarm_clients()
    assert len(clients) == 2
    caches = set()
    for name, service in clients.items():
        (argv,) = _commands(service)
        assert _argument(argv, "--via") == "swarm", name
        caches.add(_volume_at(service, _argument(argv, "--cache")))
        listen = service["environment"]["CLIENT_FETCH_SWARM_LISTEN_INTERFACES"]
        assert listen.startswith("0.0.0.0:"), name
        assert service["depends_on"]["seeder"]["condition"] == "service_started", name
    assert len(caches) == 2
    assert caches <= set(COMPOSE["volumes"])


def test_dockerfile_installs_the_server_extra_which_brings_libtorrent() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "FROM python:3.11-slim" in dockerfile.splitlines()
    assert 'pip install --no-cache-dir ".[server]"' in dockerfile
    extras: dict[str, list[str]] = PROJECT["optional-dependencies"]
    assert "volunteer-image-distribution[swarm]" in extras["server"]
    assert any(requirement.startswith("libtorrent") for requirement in extras["swarm"])
    assert {"distributor", "seeder", "client-fetch"} <= set(SCRIPTS)
