"""Block-level delta patches between two images: streamed, bounded memory, sparse on apply.

`make_delta(old, new, out)` writes a patch; `apply_delta(old, patch, out_path)` rebuilds the new
image after checking the base's sha256, and checks the result's; `read_header(patch)` tells what a
patch needs and makes. The format is documented in docs/delta-format.md.
"""

from image_format.delta.apply import apply_delta
from image_format.delta.errors import (
    DeltaBaseMismatch,
    DeltaCorrupt,
    DeltaError,
    DeltaInputChanged,
    DeltaResultMismatch,
    DeltaTargetMismatch,
    DeltaUnsupported,
)
from image_format.delta.header import DeltaHeader, read_header
from image_format.delta.make import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_LEVEL,
    DEFAULT_LITERAL_LEVEL,
    DEFAULT_WINDOW_LOG,
    DeltaStats,
    make_delta,
)

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "DEFAULT_LEVEL",
    "DEFAULT_LITERAL_LEVEL",
    "DEFAULT_WINDOW_LOG",
    "DeltaBaseMismatch",
    "DeltaCorrupt",
    "DeltaError",
    "DeltaHeader",
    "DeltaInputChanged",
    "DeltaResultMismatch",
    "DeltaStats",
    "DeltaTargetMismatch",
    "DeltaUnsupported",
    "apply_delta",
    "make_delta",
    "read_header",
]
