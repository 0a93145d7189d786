"""The admins' dashboard: one server-rendered HTML page, no external assets, no JavaScript.

It refreshes itself (`<meta http-equiv="refresh">`). Every number sits in an element with a
stable `data-metric` attribute inside a table with `data-version="NAME@VERSION"` (seeder rows also
carry `data-seeder`, patch rows `data-patch-from`), so tests and scripts can read it. Pure:
renders a `SwarmHealth`, raises nothing; every text is HTML-escaped.
"""

from __future__ import annotations

from html import escape

from distributor.health.models import SwarmHealth, VersionHealth

REFRESH_SECONDS = 5
_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; text-align: left; }
.stale { color: #a00; }
"""


def _num(metric: str, value: int | float, **attrs: str) -> str:
    extra = "".join(f' data-{key}="{escape(val)}"' for key, val in attrs.items())
    return f'<td data-metric="{metric}"{extra}>{value}</td>'


def _row(label: str, metric: str, value: int | float) -> str:
    return f"<tr><th>{escape(label)}</th>{_num(metric, value)}</tr>"


def _version_table(v: VersionHealth) -> str:
    ref = escape(f"{v.name}@{v.version}")
    rows = [
        _row("seeders (tracker)", "seeders", v.tracker.seeders),
        _row("leechers (tracker)", "leechers", v.tracker.leechers),
        _row("completed (tracker)", "completed", v.tracker.completed),
        _row("bytes from peers (host reports)", "bytes-from-peers", v.bytes_from_peers),
        _row("bytes from the origin (HTTP + web seed)", "bytes-from-origin", v.origin_bytes_sent),
        _row("origin requests", "origin-requests", v.origin_requests),
        _row("peers' announced downloads", "tracker-downloaded", v.tracker.downloaded_bytes),
        _row("peers' announced uploads", "tracker-uploaded", v.tracker.uploaded_bytes),
        _row("hash failures (seeders + hosts)", "hash-failures", v.hash_failures),
        _row("fetch reports", "fetch-reports", v.fetches.reports),
        _row("fetches ok", "fetch-ok", v.fetches.ok),
        _row("fetches failed", "fetch-failed", v.fetches.failed),
    ]
    for method, outcomes in v.fetches.by_method.items():
        for outcome, count in outcomes.items():
            rows.append(_row(f"{method}: {outcome}", f"fetch-{method}-{outcome}", count))
    seeder_rows = [
        f'<tr data-seeder="{escape(s.seeder_id)}"{" class=stale" if s.stale else ""}>'
        f"<th>{escape(s.seeder_id)}{' (stale)' if s.stale else ''}</th>"
        f"<td>{escape(s.state)}</td>"
        + _num("seeder-uploaded", s.uploaded_bytes)
        + _num("seeder-peers", s.num_peers)
        + _num("seeder-hash-failures", s.hash_failures)
        + "</tr>"
        for s in v.seeders
    ]
    seeders = (
        "<table><tr><th>seeder</th><th>state</th><th>uploaded bytes</th><th>peers</th>"
        "<th>hash failures</th></tr>" + "".join(seeder_rows) + "</table>"
        if seeder_rows
        else "<p>No seeder reports this version.</p>"
    )
    return (
        f'<section data-version="{ref}"><h2>{ref}</h2>'
        f"<p>sha256 <code>{escape(v.sha256)}</code>, {v.size} bytes</p>"
        f'<table data-version="{ref}">{"".join(rows)}</table>{seeders}{_patch_table(v)}</section>'
    )


def _patch_table(v: VersionHealth) -> str:
    """One row per patch of the version that has a swarm (`data-patch-from` = base version)."""
    if not v.patches:
        return ""
    rows = [
        f'<tr data-patch-from="{escape(p.from_version)}"><th>from {escape(p.from_version)}</th>'
        + _num("patch-size", p.size)
        + _num("patch-seeders", p.tracker.seeders)
        + _num("patch-leechers", p.tracker.leechers)
        + _num("patch-completed", p.tracker.completed)
        + _num("patch-bytes-from-origin", p.origin_bytes_sent)
        + _num("patch-seeder-uploaded", sum(s.uploaded_bytes for s in p.seeders))
        + "</tr>"
        for p in v.patches
    ]
    return (
        "<table><tr><th>patch</th><th>bytes</th><th>seeders</th><th>leechers</th>"
        "<th>completed</th><th>bytes from the origin</th><th>seeders' uploads</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def render_dashboard(health: SwarmHealth) -> str:
    seeders = "".join(
        f'<tr data-seeder="{escape(s.seeder_id)}"><th>{escape(s.seeder_id)}</th>'
        f"<td>{escape(s.endpoint)}</td><td>{'stale' if s.stale else 'live'}</td>"
        f"<td>{escape(s.last_report)}</td>{_num('seeder-torrents', s.torrents)}</tr>"
        for s in health.seeders
    )
    body = "".join(_version_table(v) for v in health.versions) or "<p>Nothing published yet.</p>"
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
        f"<title>Swarm health</title><style>{_STYLE}</style></head><body>"
        f"<h1>Swarm health</h1><p>Generated {escape(health.generated)}; tracker interval "
        f"{health.tracker_interval_seconds} s; refreshes every {REFRESH_SECONDS} s.</p>"
        "<h2>Seeders</h2><table><tr><th>seeder</th><th>endpoint</th><th>status</th>"
        f"<th>last report</th><th>torrents</th></tr>{seeders}</table>{body}</body></html>\n"
    )
