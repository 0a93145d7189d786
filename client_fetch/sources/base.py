"""The `ImageSource` vocabulary: one way of producing a whole image version into a partial file.

Error contract for every source:
- `SourceUnavailable`: this source cannot serve the image now (not found there, unreachable,
  stalled, truncated): the fetcher keeps what landed in the partial file and tries the next source.
- `ImageNotFound` is never raised by a source (a 404 there is `SourceUnavailable` with
  `not_found=True`); the fetcher decides "not found" when every source said so.
- Anything else is a bug or a local problem (OSError from the partial file) and is recorded.
A source never decides that the bytes are right: the fetcher's one verifier does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from client_fetch.partial_file import PartialFile
from client_fetch.progress import Progress
from image_format.manifest import Manifest

LOCAL_ORIGIN_PREFIX = "local:"
"""Origins named `local:...` (donor images read from this host's disk) moved no network bytes."""


def is_local_origin(origin: str) -> bool:
    return origin.startswith(LOCAL_ORIGIN_PREFIX)


@dataclass(frozen=True)
class Estimate:
    """What a source expects to move for an image: bytes, from where, and whether it can at all."""

    source: str
    method: str
    bytes_to_move: int
    from_where: str
    local_bytes: int = 0
    """Bytes the source takes from this host (a cached base, donor images) instead of moving."""


@dataclass
class FetchReport:
    """What a source moved: bytes per origin (a server URL, a peer, a local donor)."""

    bytes_by_source: dict[str, int] = field(default_factory=dict)
    hash_failures: int = 0
    """Pieces that failed their hash check (a peer or mirror sent bad data) and were refetched."""

    def add(self, origin: str, count: int) -> None:
        self.bytes_by_source[origin] = self.bytes_by_source.get(origin, 0) + count

    @property
    def total(self) -> int:
        """Bytes moved over the network: origins named `local:...` (donor images) are not."""
        return sum(
            count for origin, count in self.bytes_by_source.items() if not is_local_origin(origin)
        )


class ImageSource(Protocol):
    """One way of getting a whole image; `name` identifies it in reports and errors."""

    @property
    def name(self) -> str: ...

    @property
    def method(self) -> str: ...

    @property
    def writes_in_order(self) -> bool:
        """True: the source appends through `PartialFile.append` (hashed while written).
        False: it writes the file itself, anywhere (the verifier re-reads it)."""
        ...

    def estimate(self, manifest: Manifest, resume_offset: int) -> Estimate:
        """Cheap: no download. Raises `SourceUnavailable` when this source cannot serve."""
        ...

    def fetch(
        self, manifest: Manifest, partial: PartialFile, progress: Progress, report: FetchReport
    ) -> None:
        """Fill `partial` (opened by the fetcher, possibly holding a prefix) up to manifest.size.

        Bytes moved are added to `report` as they land, so a failed attempt still counts.
        """
        ...
