"""Prefect flows: ``sync_job`` runs one tenant's chunked sync."""

from flows.sync_job import new_job_id, sync_job

__all__ = ["new_job_id", "sync_job"]
