"""`client_fetch.entry`: the command ends without interpreter teardown once its work is done, but
never cuts short a live thread and never loses buffered output; it skips pydantic's plugin search
unless told otherwise. (That start-up runs no
garbage collection is tested with the other start-up costs, in test_client_startup.py.)"""

from __future__ import annotations

import os
import subprocess
import sys

PROLOGUE = (
    "import atexit, sys, threading, time\n"
    "from client_fetch.entry import exit_now\n"
    "atexit.register(lambda: print('teardown ran', flush=True))\n"
)


def _run(body: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # real buffering
    return subprocess.run(
        [sys.executable, "-c", PROLOGUE + body],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_exit_now_keeps_the_code_and_the_buffered_output_and_skips_teardown() -> None:
    # 200 KB of JSON-like output sits in the pipe's buffer until exit_now flushes it
    done = _run("sys.stdout.write('x' * 200_000 + '\\n')\nprint('{\"ok\": true}')\nexit_now(3)\n")
    assert done.returncode == 3
    lines = done.stdout.splitlines()
    assert lines == ["x" * 200_000, '{"ok": true}']  # everything written, no teardown line


def test_exit_now_exits_normally_while_another_thread_is_alive() -> None:
    body = (
        "def work():\n    time.sleep(0.3)\n    print('thread done')\n"
        "threading.Thread(target=work).start()\n"
        "exit_now(4)\n"
    )
    done = _run(body)
    assert done.returncode == 4
    assert done.stdout.splitlines() == ["thread done", "teardown ran"]


def test_exit_now_reports_a_closed_stdout_the_normal_way() -> None:
    # stdout closed under the buffered line: flushing fails, so instead of ending with 0 as if
    # all was written, the normal exit runs and fails as Python does (120) when it cannot flush
    done = _run("import os\nprint('lost')\nos.close(1)\nexit_now(0)\n")
    assert done.returncode == 120
    assert done.stdout == ""


def _plugins_setting_after_prepare(env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    if env_value is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = env_value
    code = (
        "import os\nfrom client_fetch.entry import prepare_process\nprepare_process()\n"
        "print(os.environ['PYDANTIC_DISABLE_PLUGINS'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_pydantic_plugins_are_skipped_unless_the_environment_names_them() -> None:
    assert _plugins_setting_after_prepare(None) == "__all__"
    assert _plugins_setting_after_prepare("some_plugin") == "some_plugin"
