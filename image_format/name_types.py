"""Validated name and version types for pydantic models (manifests, reports, listings).

Kept apart from `image_format.names`, which stays standard-library only for the fetcher's
cache-hit fast path. Invalid values fail model validation with the `InvalidName` message.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from image_format.names import validate_name, validate_version

ImageName = Annotated[str, AfterValidator(validate_name)]
"""An image (or seeder) name: `[A-Za-z0-9][A-Za-z0-9._-]*`, bounded, no `..`."""

ImageVersion = Annotated[str, AfterValidator(validate_version)]
"""A version: the same alphabet as names, bounded, no `..`."""
