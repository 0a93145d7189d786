"""`client_fetch.entry`: start-up runs no garbage collection; `exit_now` ends the command without
interpreter teardown once its work is done, but never cuts short a live thread and never loses
buffered output."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

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
        "finished = []\n"
        "def work():\n    time.sleep(0.3)\n    finished.append(1)\n    print('thread done')\n"
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


def test_a_get_up_to_its_first_request_runs_no_garbage_collection(tmp_path: Path) -> None:
    """At Python's default threshold the imports of a `get` ran the cyclic collector dozens of
    times (~15 % of the CPU before the first request); `run` raises the threshold."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: connections are refused
    argv = [
        "client-fetch", "get", "x@1", "--server", f"http://127.0.0.1:{port}",
        "--key", "ed25519:XHzgrrRyVZ9HF2AQPKStaTx2kMvIj6ttpx2QVbjdLVY=",
        "--cache", str(tmp_path / "cache"), "--json", "--via", "swarm",
    ]  # fmt: skip
    code = (
        "import gc, sys\n"
        f"sys.argv = {argv!r}\n"
        "runs = []\n"
        "gc.callbacks.append(lambda phase, info: runs.append(info) if phase == 'start' else None)\n"
        "import client_fetch.entry\n"
        "def report(code):\n"
        "    print('exit', code, 'collections', len(runs), 'modules', len(sys.modules))\n"
        "    raise SystemExit(0)\n"
        "client_fetch.entry.exit_now = report\n"
        "client_fetch.entry.run()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLIENT_FETCH_")}
    env["CLIENT_FETCH_RETRY_ROUNDS"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    words = done.stdout.splitlines()[-1].split()  # after the JSON error line
    assert words[:2] == ["exit", "5"], done.stdout + done.stderr  # the server refused: unavailable
    assert int(words[5]) > 300  # it imported what a get needs (pydantic, httpx, cryptography)
    assert int(words[3]) == 0
