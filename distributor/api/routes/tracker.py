"""The BitTorrent tracker's HTTP face: announce and scrape, answered in bencoding, and which
tracker instance this is (JSON).

The handlers hand the RAW query string (undecoded bytes) to `Tracker`, because `info_hash` and
`peer_id` are binary. Every answer is HTTP 200 with a bencoded body, refusals included
(`failure reason`), as BitTorrent clients expect; never a 500 for what a client sends.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response

from distributor.api.deps import SwarmDep
from distributor.tracker.responses import CONTENT_TYPE
from image_format.content_paths import announce_path, scrape_path, tracker_instance_path

router = APIRouter(tags=["tracker"])
_NO_STORE = {"Cache-Control": "no-store"}


def _raw_query(request: Request) -> bytes:
    raw = request.scope.get("query_string", b"")
    return raw if isinstance(raw, bytes) else b""


@router.get(announce_path())
def announce(request: Request, swarm: SwarmDep) -> Response:
    remote = request.client.host if request.client else ""
    body = swarm.tracker.announce(_raw_query(request), remote)
    return Response(body, media_type=CONTENT_TYPE, headers=_NO_STORE)


@router.get(scrape_path())
def scrape(request: Request, swarm: SwarmDep) -> Response:
    body = swarm.tracker.scrape(_raw_query(request))
    return Response(body, media_type=CONTENT_TYPE, headers=_NO_STORE)


@router.get(tracker_instance_path())
def instance(swarm: SwarmDep) -> Response:
    """Which tracker this is (see `Tracker.instance_id`): JSON, never cached."""
    return Response(
        json.dumps({"tracker_instance": swarm.tracker.instance_id}),
        media_type="application/json",
        headers=_NO_STORE,
    )
