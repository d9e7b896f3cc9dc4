"""Prefect flows and everything Prefect: the ``sync-job`` flow and its tasks, the adapter
between Prefect states and Jobs View statuses, the watcher, artifacts and outcome events."""

from flows.claim import new_job_id
from flows.runtime import use_settings
from flows.sync_job import resume_job, sync_job

__all__ = ["new_job_id", "resume_job", "sync_job", "use_settings"]
