"""The catalog: which image versions are published, with their signed manifests."""

from distributor.catalog.base import AddOutcome, Catalog, VersionRecord
from distributor.catalog.factory import open_catalog

__all__ = ["AddOutcome", "Catalog", "VersionRecord", "open_catalog"]
