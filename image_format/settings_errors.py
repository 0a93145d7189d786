"""A settings validation error as one short line per bad setting, naming where it is set.

Shared by the three deployables' command lines (distributor, seeder, client-fetch), which map
pydantic-settings' `ValidationError` to a usage error. Not responsible for exit codes or where the
text goes. Values of secret-looking settings (token, secret, password) are never repeated.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ValidationError

SECRET_WORDS = ("token", "secret", "password")


def describe_settings_error(
    exc: ValidationError, settings_type: type[BaseModel], options: Mapping[str, str]
) -> str:
    """`bad configuration: port (--port or DISTRIBUTOR_PORT): Input should be … (got '99999')`.

    `settings_type` is the pydantic-settings class that raised (its `env_prefix` names the
    variables). `options` maps each command-line option (argparse's `dest`, without dashes:
    `stall_timeout` is shown as `--stall-timeout`) to the settings field it sets.
    """
    env_prefix = str(settings_type.model_config.get("env_prefix", ""))
    flags = {field: option for option, field in options.items()}
    problems: list[str] = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(part) for part in error["loc"])
        message = "required" if error["type"] == "missing" else str(error["msg"])
        if not field:  # a check across several settings
            problems.append(message)
            continue
        top = str(error["loc"][0])
        where = [f"--{flags[top].replace('_', '-')}"] if top in flags else []
        where.append(env_prefix + top.upper())
        shown = error["type"] != "missing" and not any(w in top.lower() for w in SECRET_WORDS)
        got = f" (got {error['input']!r})" if shown else ""
        problems.append(f"{field} ({' or '.join(where)}): {message}{got}")
    return "bad configuration: " + "; ".join(problems)
