"""`Reporter`: POST the seeder's per-torrent statistics to the distributor's swarm health."""

from __future__ import annotations

import logging

import httpx

from image_format.content_paths import seeder_report_path
from image_format.swarm_reports import SeederReport, SeederTorrentStats
from seeder.outage_log import OutageLog
from seeder.reconciler import Reconciler

log = logging.getLogger(__name__)


class Reporter:
    """Builds a `SeederReport` from the reconciler's torrents and sends it with a bearer token.

    Not responsible for timing (the daemon calls `report()` every `report_seconds`). Error
    contract: never raises; a distributor without the endpoint (404) is logged once, a refused
    report each time, an unreachable distributor when it starts, now and then, and when it ends
    (`OutageLog`).
    """

    def __init__(
        self,
        base_url: str,
        seeder_id: str,
        token: str,
        reconciler: Reconciler,
        timeout_seconds: float,
    ) -> None:
        self._url = base_url.rstrip("/") + seeder_report_path(seeder_id)
        self._seeder_id = seeder_id
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._reconciler = reconciler
        self._timeout = timeout_seconds
        self._missing_logged = False
        self._outage = OutageLog(log, f"the distributor's seeder reports ({self._url})")
        self.tracker_instance: str | None = None
        """The `tracker_instance` of the last accepted report's answer (None before one)."""

    def build(self, listen_address: str) -> SeederReport:
        torrents = []
        for seeding in self._reconciler.seeding():
            status = seeding.torrent.status()
            torrents.append(
                SeederTorrentStats(
                    name=seeding.target.name,
                    version=seeding.target.version,
                    patch_from=seeding.target.patch_from,
                    info_hash_v1=status.info_hash_v1,
                    info_hash_v2=status.info_hash_v2,
                    uploaded_bytes=status.uploaded_bytes,
                    num_peers=status.num_peers,
                    hash_failures=status.hash_failures,
                    state="error" if status.error else status.state[:32],
                )
            )
        return SeederReport(
            seeder_id=self._seeder_id, listen_address=listen_address, torrents=torrents
        )

    def report(self, listen_address: str) -> bool:
        """Send one report; True when the distributor accepted it."""
        body = self.build(listen_address).model_dump(mode="json")
        try:
            answer = httpx.post(self._url, json=body, headers=self._headers, timeout=self._timeout)
        except httpx.HTTPError as exc:
            self._outage.failed(exc)
            return False
        self._outage.succeeded()
        if answer.status_code == 404:
            if not self._missing_logged:
                log.warning("the distributor has no seeder report endpoint (%s): 404", self._url)
                self._missing_logged = True
            return False
        if answer.status_code >= 300:
            log.warning("seeder report refused: HTTP %s %s", answer.status_code, answer.text[:200])
            return False
        self.tracker_instance = _tracker_instance(answer)
        return True


def _tracker_instance(answer: httpx.Response) -> str | None:
    """The answer's `tracker_instance`, or None (an older distributor, or not a JSON object)."""
    try:
        body = answer.json()
    except ValueError:
        return None
    instance = body.get("tracker_instance") if isinstance(body, dict) else None
    return instance if isinstance(instance, str) else None
