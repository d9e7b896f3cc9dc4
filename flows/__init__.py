"""Prefect flows: ``sync_job`` runs one tenant's chunked sync; ``resume_job`` finishes one."""

from flows.resume_job import resume_job
from flows.sync_job import new_job_id, sync_job

__all__ = ["new_job_id", "resume_job", "sync_job"]
