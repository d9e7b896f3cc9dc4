"""Sync Size and the chunk planner: pure functions, no I/O."""

from chunking.planner import ChunkWindow, ceil_div, plan_chunks
from chunking.sizes import CHUNK_SIZES, SyncSize

__all__ = ["CHUNK_SIZES", "ChunkWindow", "SyncSize", "ceil_div", "plan_chunks"]
