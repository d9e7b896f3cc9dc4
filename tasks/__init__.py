"""The work of each Prefect task, as plain functions over seams: plan a job, sync one chunk.

They know nothing of Prefect, so they are tested with in-memory fakes; ``flows/tasks.py``
declares the Prefect tasks that run them.
"""

from tasks.plan_job import plan, resolve_sync_size
from tasks.seams import Destination, Source
from tasks.sync_chunk import ChunkSummary, StopCheck, run_chunk

__all__ = [
    "ChunkSummary",
    "Destination",
    "Source",
    "StopCheck",
    "plan",
    "resolve_sync_size",
    "run_chunk",
]
