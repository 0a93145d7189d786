"""Plain records the host cache returns: what is cached, pinned, evicted, verified, collected."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class CachedRef:
    """A `NAME@VERSION` whose recorded manifest points at a committed image of the right size."""

    name: str
    version: str
    digest: str
    size: int
    path: Path
    manifest_bytes: bytes


@dataclass(frozen=True)
class Pin:
    """One task's lease on an image; `expires_at` None means "until unpinned".

    `process_bound`: the pin protects the image only while process `pid` lives (see `pins`)."""

    digest: str
    task: str
    created: datetime
    expires_at: datetime | None
    pid: int | None
    process_bound: bool = False

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True)
class CacheEntry:
    """One committed image, as `cache ls` shows it."""

    digest: str
    size: int
    allocated_bytes: int
    last_used: datetime
    refs: list[str]
    pinned_by: list[str]


@dataclass(frozen=True)
class EvictedEntry:
    """An image removed by quota enforcement, with the manifest records removed with it."""

    digest: str
    allocated_bytes: int
    last_used: datetime
    refs: list[str]


@dataclass(frozen=True)
class QuotaReport:
    """Outcome of one quota enforcement; `exceeded` means only protected images were left.

    `usage_*` are allocated bytes of images/ and downloads/ (plus `reserve_bytes` if asked).
    """

    quota_bytes: int | None
    usage_before: int
    usage_after: int
    evicted: list[EvictedEntry] = field(default_factory=list)
    exceeded: bool = False


@dataclass(frozen=True)
class VerifyResult:
    """Re-hash of one image: ok, corrupt (moved to quarantine) or missing."""

    digest: str
    status: Literal["ok", "corrupt", "missing"]
    actual_digest: str | None = None
    quarantined_to: Path | None = None


@dataclass
class GcReport:
    """Everything one `gc` removed, then the quota enforcement it ran (filled in as gc goes).

    `expired_pins` also lists the pins of processes that have ended (process-bound pins)."""

    expired_pins: list[str] = field(default_factory=list)
    stale_partials: list[str] = field(default_factory=list)
    stale_tmp_files: list[str] = field(default_factory=list)
    orphan_manifests: list[str] = field(default_factory=list)
    old_quarantine: list[str] = field(default_factory=list)
    removed_other: int = 0
    quota: QuotaReport | None = None
