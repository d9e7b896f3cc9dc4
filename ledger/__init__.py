"""The Jobs View model: statuses, the Prefect adapter, the SQLAlchemy ledger, renderers."""

from ledger.adapter import chunk_status, final_state, job_status, settle
from ledger.models import ACTIVE_JOB_STATUSES, Chunk, ChunkStatus, Job, JobStatus
from ledger.render import render_tree
from ledger.store import Ledger, get_ledger

__all__ = [
    "ACTIVE_JOB_STATUSES",
    "Chunk",
    "ChunkStatus",
    "Job",
    "JobStatus",
    "Ledger",
    "chunk_status",
    "final_state",
    "get_ledger",
    "job_status",
    "render_tree",
    "settle",
]
