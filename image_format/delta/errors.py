"""Typed errors of the delta patch codec; each carries what it is about (offsets, digests)."""

from __future__ import annotations

from image_format.errors import ImageFormatError


class DeltaError(ImageFormatError):
    """Base of every delta patch error."""


class DeltaCorrupt(DeltaError):
    """The patch is truncated, damaged or not a patch at all.

    `offset` is the byte offset in the patch file where the problem was noticed (inside the
    compressed body this is how far the reader had consumed, not the damaged byte itself).
    """

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"corrupt delta patch at byte {offset}: {reason}")
        self.offset = offset
        self.reason = reason


class DeltaUnsupported(DeltaError):
    """The patch is of a format version, flags, block size or lane window log this code does
    not read (`what` names the field, `value` its value)."""

    def __init__(self, what: str, value: int) -> None:
        super().__init__(f"unsupported delta patch {what}: {value}")
        self.what = what
        self.value = value


class DeltaBaseMismatch(DeltaError):
    """The base (old) image is not the one the patch was made from; nothing was written."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"delta base has sha256 {actual}, the patch needs {expected}")
        self.expected = expected
        self.actual = actual


class DeltaResultMismatch(DeltaError):
    """Applying produced other content than the patch header promises (size or sha256)."""

    def __init__(
        self, expected_sha256: str, actual_sha256: str, expected_size: int, actual_size: int
    ) -> None:
        super().__init__(
            f"delta result is {actual_size} bytes sha256 {actual_sha256}, "
            f"the patch promises {expected_size} bytes sha256 {expected_sha256}"
        )
        self.expected_sha256 = expected_sha256
        self.actual_sha256 = actual_sha256
        self.expected_size = expected_size
        self.actual_size = actual_size


class DeltaTargetMismatch(DeltaError):
    """The patch header promises another result (size or sha256) than the caller expects;
    refused before anything was decoded or written."""

    def __init__(
        self, expected_sha256: str, header_sha256: str, expected_size: int, header_size: int
    ) -> None:
        super().__init__(
            f"delta patch makes {header_size} bytes sha256 {header_sha256}, "
            f"expected {expected_size} bytes sha256 {expected_sha256}"
        )
        self.expected_sha256 = expected_sha256
        self.header_sha256 = header_sha256
        self.expected_size = expected_size
        self.header_size = header_size


class DeltaInputChanged(DeltaError):
    """An input of `make_delta` is not the content the caller said it was (or changed while read).

    `which` is "old" or "new".
    """

    def __init__(self, which: str, expected: str, actual: str) -> None:
        super().__init__(
            f"{which} image hashed to {actual} while making a delta, expected {expected}"
        )
        self.which = which
        self.expected = expected
        self.actual = actual
