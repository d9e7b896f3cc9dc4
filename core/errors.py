"""Every error Jobs View raises, in one hierarchy.

    JobsViewError
    ├── ConfigError                 bad setting or unreachable database (fatal)
    │   └── SchemaConflictError     a table we would create exists and is not ours (fatal)
    ├── InvalidInputError           bad tenant, sync type or size (fatal)
    ├── JobNotFoundError            no job with that id (fatal)
    ├── ChunkNotFoundError          the job has no chunk with that index (fatal)
    ├── TenantNotFoundError         nothing is stored for that tenant (fatal)
    ├── JobConflictError            a queued or running job blocks this one (fatal)
    ├── JobIdTakenError             another job has the id asked for (fatal)
    ├── JobStateError               the job's status does not allow that (resume, cancel)
    ├── PlanTooLargeError           a job would need more than JOBSVIEW_MAX_CHUNKS_PER_JOB
    ├── SourceError                 talking to the source API
    │   ├── TransientSourceError    429, 5xx, timeouts, dropped connections (retryable)
    │   ├── MalformedPageError      a 200 that is not a valid page (retryable)
    │   │   └── InconsistentPagesError  pages that repeat, lie or drift past the margin
    │   ├── RecordTooLargeError     a record over JOBSVIEW_MAX_RECORD_BYTES (fails its chunk)
    │   └── FatalSourceError        400, 422 (fatal: the job stops at once)
    │       ├── SourceAuthError     401, 403
    │       └── SourceNotFoundError 404: unknown tenant or resource
    ├── DestinationError            writing records failed (retryable)
    ├── StopRequested               the job was cancelled or stopped (not retried)
    └── JobEndedError               raised by flows that end without completing
        ├── JobFailedError
        ├── JobIncompleteError
        └── JobCancelledError

Whether an error is retried is decided by its type: ``retryable``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class JobsViewError(Exception):
    """Base class; ``retryable`` says whether a chunk retry may help."""

    retryable: ClassVar[bool] = False


class ConfigError(JobsViewError):
    """A setting is invalid, or a configured service cannot be reached."""


class SchemaConflictError(ConfigError):
    """The database is reachable, but a table Jobs View's migrations would create is already
    there and is not Jobs View's (another tool's ``records``, say): point the setting
    elsewhere or rename that table."""


class InvalidInputError(JobsViewError, ValueError):
    """An argument from a user (tenant, sync type, size, ...) is not acceptable."""


class JobNotFoundError(JobsViewError):
    def __init__(self, job_ref: str) -> None:
        super().__init__(f"no job matches {job_ref!r}; list jobs with `jobsview jobs`")
        self.job_ref = job_ref


class ChunkNotFoundError(JobsViewError):
    def __init__(self, job_id: str, index: int) -> None:
        super().__init__(f"job {job_id} has no chunk {index}")
        self.job_id = job_id
        self.index = index


class TenantNotFoundError(JobsViewError):
    def __init__(self, tenant: str) -> None:
        super().__init__(f"nothing is stored for tenant {tenant!r}")
        self.tenant = tenant


class JobConflictError(JobsViewError):
    """A queued or running job for the same tenant and sync type already exists."""

    def __init__(self, tenant: str, sync_type: str, blocking_job_id: str) -> None:
        super().__init__(
            f"a {sync_type} job for tenant {tenant!r} is already queued or running: "
            f"{blocking_job_id}; wait for it, or cancel it with "
            f"`jobsview cancel {blocking_job_id}`"
        )
        self.tenant = tenant
        self.sync_type = sync_type
        self.blocking_job_id = blocking_job_id


class JobIdTakenError(JobsViewError):
    """A job id given to a new job already names another job: a conflict, not bad input."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job id {job_id!r} is already taken")
        self.job_id = job_id


class JobStateError(JobsViewError):
    """The job's current status does not allow what was asked (e.g. resuming a completed job)."""


class PlanTooLargeError(JobsViewError):
    """Planning would need more chunks than one job may have (a huge or lying ``total``)."""


class SourceError(JobsViewError):
    """A problem reading from the source API; carries where it happened."""

    def __init__(
        self,
        message: str,
        *,
        tenant: str | None = None,
        resource: str | None = None,
        offset: int | None = None,
        status_code: int | None = None,
    ) -> None:
        where = ", ".join(
            f"{k}={v}"
            for k, v in (
                ("tenant", tenant),
                ("resource", resource),
                ("offset", offset),
                ("status", status_code),
            )
            if v is not None
        )
        super().__init__(f"{message} ({where})" if where else message)
        self.tenant = tenant
        self.resource = resource
        self.offset = offset
        self.status_code = status_code


class TransientSourceError(SourceError):
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **ctx: Any) -> None:
        super().__init__(message, **ctx)
        self.retry_after = retry_after


class MalformedPageError(SourceError):
    retryable = True


class InconsistentPagesError(MalformedPageError):
    """Valid pages that do not add up: repeated ids, no progress, or drift past the margin."""


class RecordTooLargeError(SourceError):
    """One record is bigger than JOBSVIEW_MAX_RECORD_BYTES: retrying reads it again."""


class FatalSourceError(SourceError):
    """The request itself is wrong: retrying cannot help, so the job stops."""


class SourceAuthError(FatalSourceError):
    pass


class SourceNotFoundError(FatalSourceError):
    pass


class DestinationError(JobsViewError):
    retryable = True


class StopRequested(JobsViewError):
    """The job was asked to stop; the chunk wrote nothing."""


class JobEndedError(JobsViewError):
    """A job ended without completing; ``job`` is its final Jobs View record."""

    status: ClassVar[str] = ""

    def __init__(self, job: Any) -> None:
        error = f": {job.error}" if getattr(job, "error", None) else ""
        super().__init__(f"job {job.id} ended {self.status}{error}")
        self.job = job


class JobFailedError(JobEndedError):
    status = "failed"


class JobIncompleteError(JobEndedError):
    status = "incomplete"

    def __init__(self, job: Any) -> None:
        super().__init__(job)
        self.args = (
            f"{self.args[0]}; re-run what did not complete with `jobsview resume {job.id}`",
        )


class JobCancelledError(JobEndedError):
    status = "cancelled"
