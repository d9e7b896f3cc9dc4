"""Prefect tasks: plan a job, sync one chunk. Each wraps a plain, testable function."""

from tasks.plan_job import plan, plan_job, resolve_sync_size
from tasks.sync_chunk import ChunkSummary, run_chunk, sync_chunk

__all__ = ["ChunkSummary", "plan", "plan_job", "resolve_sync_size", "run_chunk", "sync_chunk"]
