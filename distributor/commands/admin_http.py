"""Requests to a remote distributor's admin API, as `distributor upload` and a remote
`distributor retire` make them: the bearer token, timeouts, and one error for every failure.

Not responsible for what a request means (the commands'). Error contract: `AdminRequestFailed`
carries the method, the URL, the HTTP status (None when the server gave no answer) and the
server's error code (its JSON `error`, "unreachable", or "unknown" for a body that is not ours).
"""

from __future__ import annotations

from typing import Any

import httpx

ADMIN_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


class AdminRequestFailed(Exception):
    """The server refused the request or could not be reached; `status` is None if unreachable."""

    def __init__(self, method: str, url: str, status: int | None, code: str, detail: str) -> None:
        where = f"HTTP {status}, {code}" if status is not None else "no answer"
        super().__init__(f"{method} {url} failed ({where}): {detail}")
        self.method = method
        self.url = url
        self.status = status
        self.code = code


def admin_request(
    method: str, url: str, token: str, *, ok: tuple[int, ...] = (200,), **request: Any
) -> httpx.Response:
    """`method url` with the admin token; the answer if its status is one of `ok`, else
    `AdminRequestFailed`. `request`: httpx's other arguments (params, content, headers to add)."""
    headers = {"Authorization": f"Bearer {token}", **request.pop("headers", {})}
    try:
        answer = httpx.request(method, url, headers=headers, timeout=ADMIN_TIMEOUT, **request)
    except httpx.HTTPError as exc:
        raise AdminRequestFailed(method, url, None, "unreachable", str(exc)) from exc
    if answer.status_code not in ok:
        try:
            body = answer.json()
            code, detail = str(body.get("error")), str(body.get("detail"))
        except (ValueError, AttributeError):
            code, detail = "unknown", answer.text[:500]
        raise AdminRequestFailed(method, url, answer.status_code, code, detail)
    return answer


def answer_fields(method: str, answer: httpx.Response, *names: str) -> list[Any]:
    """The named fields of a JSON object answer; `AdminRequestFailed` ("unknown") when the body
    is not such an object (say, a proxy's page answering in the server's place)."""
    try:
        body = answer.json()
        return [body[name] for name in names]
    except (ValueError, KeyError, TypeError) as exc:
        detail = f"unexpected answer: {answer.text[:200]!r}"
        raise AdminRequestFailed(
            method, str(answer.url), answer.status_code, "unknown", detail
        ) from exc
