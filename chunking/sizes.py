"""Sync Size: how many records go into one chunk."""

from __future__ import annotations

import enum


class SyncSize(enum.StrEnum):
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"
    XLARGE = "xlarge"

    @property
    def chunk_size(self) -> int:
        return CHUNK_SIZES[self]


CHUNK_SIZES: dict[SyncSize, int] = {
    SyncSize.SMALL: 100,
    SyncSize.MEDIUM: 500,
    SyncSize.LARGE: 2_000,
    SyncSize.XLARGE: 10_000,
}
