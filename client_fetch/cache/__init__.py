"""The host cache: content-addressed images shared by every task on a volunteer host.

Imports only the standard library and `image_format.digest/names/errors`, so that a cache hit
answered by a whole `client-fetch get` process stays fast.
"""

from client_fetch.cache.host_cache import DEFAULT_LOCK_TIMEOUT_SECONDS, HostCache
from client_fetch.cache.layout import CacheLayout, validate_task
from client_fetch.cache.records import (
    CachedRef,
    CacheEntry,
    EvictedEntry,
    GcReport,
    Pin,
    QuotaReport,
    VerifyResult,
)

__all__ = [
    "DEFAULT_LOCK_TIMEOUT_SECONDS",
    "CacheEntry",
    "CacheLayout",
    "CachedRef",
    "EvictedEntry",
    "GcReport",
    "HostCache",
    "Pin",
    "QuotaReport",
    "VerifyResult",
    "validate_task",
]
