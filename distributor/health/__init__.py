"""Swarm health for admins: seeder and host reports, the per-version summary, dashboard, metrics.

`state.build_swarm_state` wires the tracker and the report registries; `summary` joins them with
the catalog and origin counters into `SwarmHealth`, which the JSON endpoint, the dashboard page
and the Prometheus collector all render.
"""
