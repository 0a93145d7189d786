"""Opening a catalog from its URL. Only `sqlite:///path` is implemented.

Error contract: `UnsupportedCatalogUrl` for other schemes, `CatalogError` if the database cannot
be opened (with `must_exist`, also when it does not exist yet: opening would make an empty one).
"""

from __future__ import annotations

from pathlib import Path

from distributor.catalog.base import Catalog
from distributor.catalog.sqlite import SqliteCatalog
from distributor.errors import CatalogError, UnsupportedCatalogUrl

SQLITE_PREFIX = "sqlite:///"


def open_catalog(url: str, *, must_exist: bool = False) -> Catalog:
    if url.startswith(SQLITE_PREFIX):
        path = url[len(SQLITE_PREFIX) :]
        if not path:
            raise UnsupportedCatalogUrl(url, "the sqlite URL names no file (sqlite:///PATH)")
        if must_exist and not Path(path).is_file():
            raise CatalogError(path, "no such catalog (is DISTRIBUTOR_CATALOG_URL the server's?)")
        return SqliteCatalog(Path(path))
    scheme = url.split(":", 1)[0] if ":" in url else url
    if scheme in {"postgresql", "postgres"} or scheme.startswith("postgresql+"):
        raise UnsupportedCatalogUrl(url, f"{scheme}:// is not supported yet; use sqlite:///PATH")
    raise UnsupportedCatalogUrl(url, f"unknown catalog scheme {scheme!r}; use sqlite:///PATH")
