"""The project's own rules, checked like behaviour: lint, types, and the one-way import graph."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("image_format", "swarm", "distributor", "seeder", "client_fetch")
# Who may import whom: distributor, seeder, client_fetch -> swarm -> image_format.
ALLOWED = {
    "image_format": {"image_format"},
    "swarm": {"swarm", "image_format"},
    "distributor": {"distributor", "swarm", "image_format"},
    "seeder": {"seeder", "swarm", "image_format"},
    "client_fetch": {"client_fetch", "swarm", "image_format"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _package_files(package: str) -> list[Path]:
    folder = ROOT / package
    return sorted(folder.rglob("*.py")) if folder.is_dir() else []


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_go_one_way(package: str) -> None:
    for path in _package_files(package):
        ours = _imports(path) & set(PACKAGES)
        assert ours <= ALLOWED[package], (
            f"{path.relative_to(ROOT)} imports {ours - ALLOWED[package]}"
        )


def test_only_swarm_imports_libtorrent_and_the_client_needs_no_fastapi() -> None:
    for package in PACKAGES:
        for path in _package_files(package):
            imported = _imports(path)
            if package != "swarm":
                assert "libtorrent" not in imported, path
            if package in ("client_fetch", "image_format", "swarm"):
                assert not imported & {"fastapi", "uvicorn", "starlette"}, path


def test_image_format_does_no_network_or_process_io() -> None:
    for path in _package_files("image_format"):
        assert not _imports(path) & {"httpx", "socket", "subprocess", "http", "urllib"}, path


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_lint_and_format() -> None:
    lint = _run(sys.executable, "-m", "ruff", "check", ".")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = _run(sys.executable, "-m", "ruff", "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy_strict() -> None:
    result = _run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr
