"""`distributor serve`: check the configuration, then run the API under uvicorn.

Refuses to start (before binding a port) with a weak admin token unless --dev, and without a
signing key (telling the user to run `keys init`). uvicorn handles SIGTERM/SIGINT gracefully.
"""

from __future__ import annotations

import sys

import uvicorn

from distributor.api.app import create_app
from distributor.keys import KeyPaths, load_signing_key
from distributor.settings import DistributorSettings


def serve(settings: DistributorSettings) -> int:
    settings.check_admin_token()
    public_key = load_signing_key(settings.data_dir).public_key
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    mode = " (development mode)" if settings.dev_mode else ""
    print(
        f"distributor{mode}: data {settings.data_dir}, public URL {settings.effective_public_url}, "
        f"key {public_key} ({KeyPaths(settings.data_dir).public})",
        file=sys.stderr,
        flush=True,
    )
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        timeout_graceful_shutdown=5,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
    uvicorn.Server(config).run()
    return 0
