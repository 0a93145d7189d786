"""`distributor keys init|show`: key files, modes, idempotence, the public key printed last."""

from __future__ import annotations

import stat
from pathlib import Path

from image_format.envelope import PublicKey, load_public_keys
from tests.fixtures.distributor_server import run_cli


def test_keys_init_makes_private_key_0600_and_prints_public_key_last(tmp_path: Path) -> None:
    done = run_cli("keys", "init", "--data", str(tmp_path))
    assert done.returncode == 0, done.stderr
    private = tmp_path / "keys" / "signing.key"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    last = done.stdout.strip().splitlines()[-1]
    key = PublicKey.parse(last)
    assert load_public_keys(str(tmp_path / "keys" / "signing.pub")) == [key]
    assert load_public_keys(last) == [key]


def test_keys_init_twice_keeps_the_key_and_says_so(tmp_path: Path) -> None:
    first = run_cli("keys", "init", "--data", str(tmp_path))
    private_before = (tmp_path / "keys" / "signing.key").read_bytes()
    second = run_cli("keys", "init", "--data", str(tmp_path))
    assert second.returncode == 0
    assert "exists already" in second.stdout
    assert second.stdout.strip().splitlines()[-1] == first.stdout.strip().splitlines()[-1]
    assert (tmp_path / "keys" / "signing.key").read_bytes() == private_before


def test_keys_show_prints_the_public_key(tmp_path: Path) -> None:
    init = run_cli("keys", "init", "--data", str(tmp_path))
    show = run_cli("keys", "show", "--data", str(tmp_path))
    assert show.returncode == 0
    assert show.stdout.strip() == init.stdout.strip().splitlines()[-1]


def test_keys_show_without_a_key_is_a_usage_error(tmp_path: Path) -> None:
    done = run_cli("keys", "show", "--data", str(tmp_path))
    assert done.returncode == 2
    assert "keys init" in done.stderr
