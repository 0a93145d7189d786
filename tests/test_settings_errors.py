"""Bad settings get one short line per problem naming the flag and the environment variable,
in all three command lines, and never repeat a secret's value."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from image_format.settings_errors import describe_settings_error


class DemoSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_")

    port: int = Field(8080, le=65535)
    key: str
    admin_token: str = Field("", max_length=64)
    low: int = 1
    high: int = 2

    @model_validator(mode="after")
    def _ordered(self) -> DemoSettings:
        if self.low > self.high:
            raise ValueError("low must not exceed high")
        return self


def _describe(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        DemoSettings()
    return describe_settings_error(caught.value, DemoSettings, {"key_file": "key"})


def test_each_problem_names_its_flag_or_variable_and_the_value(monkeypatch) -> None:
    text = _describe(monkeypatch, DEMO_PORT="99999")
    assert text == (
        "bad configuration: port (DEMO_PORT): Input should be less than or equal to 65535 "
        "(got '99999'); key (--key-file or DEMO_KEY): required"
    )
    assert "pydantic.dev" not in text


def test_a_secret_value_is_never_repeated(monkeypatch) -> None:
    text = _describe(monkeypatch, DEMO_KEY="k", DEMO_PORT="1", DEMO_ADMIN_TOKEN="x" * 10**6)
    assert text.startswith("bad configuration: admin_token (DEMO_ADMIN_TOKEN): ")
    assert "xxxx" not in text


def test_a_check_across_settings_is_given_as_its_message(monkeypatch) -> None:
    text = _describe(monkeypatch, DEMO_KEY="k", DEMO_LOW="5")
    assert text == "bad configuration: Value error, low must not exceed high"


def test_client_fetch_names_the_setting(monkeypatch, tmp_path: Path, capsys) -> None:
    from client_fetch.cli import main

    monkeypatch.setenv("CLIENT_FETCH_STALL_TIMEOUT_SECONDS", "soon")
    args = ["get", "img@1", "--server", "http://127.0.0.1:9", "--cache", str(tmp_path)]
    assert main([*args, "--key", "ed25519:" + "A" * 43 + "="]) == 2
    err = capsys.readouterr().err
    assert "stall_timeout_seconds (--stall-timeout or CLIENT_FETCH_STALL_TIMEOUT_SECONDS)" in err
    assert "(got 'soon')" in err


def test_seeder_names_the_missing_key(monkeypatch, tmp_path: Path, capsys) -> None:
    from seeder.cli import main

    monkeypatch.delenv("SEEDER_KEY", raising=False)
    assert main(["run", "--distributor", "http://127.0.0.1:9", "--data", str(tmp_path)]) == 2
    assert (
        "seeder: bad configuration: key (--key or SEEDER_KEY): required" in capsys.readouterr().err
    )


def test_distributor_names_the_bad_port(monkeypatch, tmp_path: Path, capsys) -> None:
    from distributor.cli import main

    monkeypatch.setenv("DISTRIBUTOR_PORT", "99999")
    assert main(["serve", "--data", str(tmp_path), "--dev"]) == 2
    err = capsys.readouterr().err
    assert "distributor: bad configuration: port (--port or DISTRIBUTOR_PORT)" in err
    assert "(got '99999')" in err
