"""`client-fetch plan`: what a get would do, and why, without moving image bytes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from client_fetch.planner import Plan
from client_fetch.rates import RateBook
from client_fetch.sources.base import Estimate
from image_format.manifest import Manifest


def _human(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


@dataclass(frozen=True)
class PlanRow:
    source: str
    method: str
    bytes_to_move: int
    from_where: str
    expected_seconds: float
    rate_measured: bool


@dataclass(frozen=True)
class PlanReport:
    """The estimates in the order they would be tried; `choice` is the first."""

    ref: str
    digest: str
    size: int
    cached: bool
    choice: str | None
    reason: str
    rows: list[PlanRow] = field(default_factory=list)
    unavailable: list[tuple[str, str]] = field(default_factory=list)
    not_tried: list[tuple[PlanRow, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "digest": self.digest,
            "size": self.size,
            "cached": self.cached,
            "choice": self.choice,
            "reason": self.reason,
            "order": [row.__dict__ for row in self.rows],
            "unavailable": [{"source": s, "reason": r} for s, r in self.unavailable],
            "not_tried": [{**row.__dict__, "reason": why} for row, why in self.not_tried],
        }

    def to_text(self) -> str:
        lines = [f"{self.ref} sha256:{self.digest[:12]} ({_human(self.size)})"]
        if self.cached:
            lines.append("choice: cache (the image is in the host cache: nothing to move)")
            return "\n".join(lines)
        lines.append(f"{'#':>2} {'SOURCE':28} {'METHOD':7} {'TO MOVE':>11} {'EXPECTED':>10}  FROM")
        for index, row in enumerate(self.rows, 1):
            rate = "" if row.rate_measured else "*"
            lines.append(
                f"{index:>2} {row.source[:28]:28} {row.method:7} {_human(row.bytes_to_move):>11} "
                f"{row.expected_seconds:>8.1f}s{rate:1}  {row.from_where}"
            )
        for row, why in self.not_tried:
            moved = f"{_human(row.bytes_to_move)}, {row.from_where}"
            lines.append(f"   not tried: {row.source} ({moved}): {why}")
        for source, reason in self.unavailable:
            lines.append(f"   unavailable: {source}: {reason}")
        lines.append(f"choice: {self.choice or 'none'} ({self.reason})")
        if any(not row.rate_measured for row in self.rows):
            lines.append("* configured rate (not measured on this host yet)")
        return "\n".join(lines)


def cached_report(manifest: Manifest) -> PlanReport:
    return PlanReport(manifest.ref, manifest.sha256, manifest.size, True, "cache", "cached")


def _row(estimate: Estimate, rates: RateBook) -> PlanRow:
    rate, measured = rates.rate(estimate.method)
    return PlanRow(
        estimate.source,
        estimate.method,
        estimate.bytes_to_move,
        estimate.from_where,
        estimate.bytes_to_move / rate if rate > 0 else 0.0,
        measured,
    )


def build_report(manifest: Manifest, plan: Plan, rates: RateBook) -> PlanReport:
    rows = [_row(estimate, rates) for estimate in plan.estimates]
    choice = rows[0].source if rows else None
    return PlanReport(
        manifest.ref,
        manifest.sha256,
        manifest.size,
        False,
        choice,
        plan.reason,
        rows,
        plan.unavailable,
        [(_row(estimate, rates), why) for estimate, why in plan.not_tried],
    )
