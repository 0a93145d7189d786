"""HEAD wherever GET is served (RFC 9110 §9.3.2): the GET's status and headers, no body.

FastAPI registers `@router.get` for GET alone, so HEAD on a manifest or a listing would be 405.
`HeadAsGet`, a pure ASGI middleware, routes a HEAD that no route accepts as such, but a GET route
would, to that route as a GET. Routes that accept HEAD themselves (the content routes, which then
skip reading the file) receive it untouched. Every answer to a HEAD leaves without its body,
whatever produced it (an error body included); `Content-Length` stays that of the GET.

Not responsible for the 405 answer and its `Allow` header (`distributor.api.errors`). Error
contract: none of its own; the route's errors propagate exactly as for a GET.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _served_only_as_get(routes: Sequence[BaseRoute], scope: Scope) -> bool:
    """True when the router, in its order, would find a GET route but no HEAD route for this."""
    as_get = {**scope, "method": "GET"}
    for route in routes:
        if route.matches(scope)[0] is Match.FULL:
            return False
        if route.matches(as_get)[0] is Match.FULL:
            return True
    return False


class HeadAsGet:
    """Answers HEAD like GET without a body; `routes` is the app's (live) route list."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                message = {**message, "body": b""}
            await send(message)

        if _served_only_as_get(self.routes, scope):
            scope = {**scope, "method": "GET"}
        await self.app(scope, receive, send_without_body)
