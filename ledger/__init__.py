"""The Jobs View model, its SQLAlchemy ledger, recovery and the text renderer; no Prefect."""

from ledger.models import (
    ACTIVE_JOB_STATUSES,
    Chunk,
    ChunkStatus,
    Drift,
    Job,
    JobStatus,
    job_outcome,
)
from ledger.render import render_tree
from ledger.store import Ledger, get_ledger

__all__ = [
    "ACTIVE_JOB_STATUSES",
    "Chunk",
    "ChunkStatus",
    "Drift",
    "Job",
    "JobStatus",
    "Ledger",
    "get_ledger",
    "job_outcome",
    "render_tree",
]
