"""`EncodedSeparatorGuard`: a name under `/v1/images/` may not smuggle a separator in encoded form.

The router matches the decoded path, so `/v1/images/deb%2Flatest` (an image named `deb/latest`)
would reach the route of image `deb`'s latest manifest, and `.../versions/1.0%2Fmanifest` that of
version `1.0`'s. Names never contain `/` or `\\` (`image_format.names`), so such a request is a bad
name: 400 `invalid_name`, before any route runs. Not responsible for other name rules (the routes
validate names) nor for unrouted paths (`distributor.api.errors`). Error contract: none; it
answers the request itself.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from distributor.api.errors import bad_image_path


class EncodedSeparatorGuard:
    """Answers 400 for `/v1/images/...` paths whose raw form holds `%2F` or `%5C`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refused = bad_image_path(Request(scope))
            if refused is not None:
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)
