"""Origin traffic per blob: requests, bytes sent, full transfers (see `OriginStats`)."""

from __future__ import annotations

from fastapi import APIRouter

from distributor.api import paths
from distributor.api.deps import OriginStatsDep

router = APIRouter(tags=["stats"])


@router.get(paths.ORIGIN_STATS)
def origin_stats(stats: OriginStatsDep) -> dict[str, dict[str, dict[str, int]]]:
    return {"blobs": stats.snapshot()}
