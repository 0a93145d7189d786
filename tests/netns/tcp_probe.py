"""A tiny TCP sink and sender for namespace tests, run as a script inside a host's namespace.

What it is for: proving reachability and measuring transfer time without ping or iperf.
`sink --bind IP --port P` prints `listening` once bound, accepts one connection, reads to EOF
and answers `{"bytes": N}`. `send --to IP --port P --bytes N` connects (retrying until
--connect-timeout), sends N bytes, half-closes, waits for the sink's answer (so the time
covers delivery, not just filling the socket buffer) and prints
`{"bytes": N_received_by_sink, "seconds": T}`.

Not responsible for anything beyond one connection. Error contract: exit 0 on success; any
failure is an uncaught exception (exit 1, traceback on stderr). It imports nothing from this
repository so it runs by path from any working directory (`argv()` builds the command).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from pathlib import Path

CHUNK = 64 * 1024


def argv(*args: str) -> list[str]:
    """The command line that runs this script with this interpreter."""
    return [sys.executable, str(Path(__file__).resolve()), *args]


def sink(bind: str, port: int) -> None:
    with socket.create_server((bind, port)) as server:
        print("listening", flush=True)
        conn, _ = server.accept()
        with conn:
            total = 0
            while data := conn.recv(CHUNK):
                total += len(data)
            conn.sendall(json.dumps({"bytes": total}).encode())


def send(to: str, port: int, count: int, connect_timeout: float) -> None:
    deadline = time.monotonic() + connect_timeout
    while True:
        try:
            conn = socket.create_connection((to, port), timeout=30)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    with conn:
        block = bytes(CHUNK)
        started = time.monotonic()
        left = count
        while left > 0:
            conn.sendall(block[: min(CHUNK, left)])
            left -= min(CHUNK, left)
        conn.shutdown(socket.SHUT_WR)
        answer = b""
        while data := conn.recv(CHUNK):
            answer += data
        seconds = time.monotonic() - started
    print(json.dumps({"bytes": json.loads(answer)["bytes"], "seconds": seconds}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    sink_args = sub.add_parser("sink")
    sink_args.add_argument("--bind", required=True)
    sink_args.add_argument("--port", type=int, required=True)
    send_args = sub.add_parser("send")
    send_args.add_argument("--to", required=True)
    send_args.add_argument("--port", type=int, required=True)
    send_args.add_argument("--bytes", type=int, required=True)
    send_args.add_argument("--connect-timeout", type=float, default=10.0)
    args = parser.parse_args()
    if args.command == "sink":
        sink(args.bind, args.port)
    else:
        send(args.to, args.port, args.bytes, args.connect_timeout)


if __name__ == "__main__":
    main()
