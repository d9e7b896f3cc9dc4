"""The JSON API: jobs, their chunks, cancel and resume, and Sync Size settings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from chunking import SyncSize
from core.validation import TENANT_PATTERN, SyncType
from ledger.models import ChunkStatus, JobStatus
from views.settings_cli import public_settings
from views.web import actions
from views.web.deps import LauncherDep, LedgerDep, SettingsDep
from views.web.security import require_token

router = APIRouter(prefix="/api", tags=["jobs"])

Tenant = Annotated[str, Field(pattern=TENANT_PATTERN.pattern, examples=["acme"])]
JobRef = Annotated[
    str,
    Path(pattern=r"^[0-9a-fA-F-]{4,36}$", description="A job id, or a unique prefix of one."),
]
Json = dict[str, Any]

# Cancel and resume take no input, but they must be JSON (or carry the bearer token): a
# plain POST is what any web page can send, with the operator's browser, to this server.
NO_INPUT_JSON: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "description": "Nothing, or {}; the request must say Content-Type: application/json.",
        "content": {"application/json": {"schema": {"type": "object", "maxProperties": 0}}},
    }
}


class JobIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: Tenant
    sync_type: SyncType
    sync_size: SyncSize | None = None


class SyncSizeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sync_size: SyncSize | None = Field(description="null returns to the default")


@router.get("/jobs", summary="Jobs, newest first")
def list_jobs(
    store: LedgerDep,
    tenant: Annotated[str | None, Query(pattern=TENANT_PATTERN.pattern)] = None,
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[Json]:
    found = store.list_jobs(tenant=tenant, status=status_, limit=limit, offset=offset)
    return [job.to_dict(include_chunks=False) for job in found]


CHUNK_LIMIT = 200


@router.get("/jobs/{job_id}", summary="One job, with a page of its chunks")
def get_job(
    store: LedgerDep,
    job_id: JobRef,
    chunk_offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    chunk_limit: Annotated[
        int, Query(ge=1, le=100_000, description="Chunks per page; counts cover them all.")
    ] = CHUNK_LIMIT,
    chunk_status: Annotated[ChunkStatus | None, Query(description="Only these chunks.")] = None,
) -> Json:
    """The job with its chunks in index order, ``chunk_limit`` of them from ``chunk_offset``
    (only those in ``chunk_status`` if given); ``chunk_page.next_offset`` is where the next
    page starts, null after the last one."""
    job = store.get_job(
        job_id, chunk_offset=chunk_offset, chunk_limit=chunk_limit, chunk_status=chunk_status
    )
    total = job.counts[chunk_status] if chunk_status else job.total_chunks
    end = chunk_offset + len(job.chunks or ())
    page = {
        "offset": chunk_offset,
        "limit": chunk_limit,
        "total": total,
        "next_offset": end if end < total else None,
    }
    return {**job.to_dict(), "chunk_page": page}


@router.post(
    "/jobs",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(require_token)],
    summary="Start a job; it runs in the background",
)
def start_job(body: JobIn, settings: SettingsDep, store: LedgerDep, launcher: LauncherDep) -> Json:
    job = actions.start_job(settings, store, launcher, body.tenant, body.sync_type, body.sync_size)
    return job.to_dict()


@router.post(
    "/jobs/{job_id}/cancel",
    dependencies=[Depends(require_token)],
    summary="Ask a queued or running job to stop",
    openapi_extra=NO_INPUT_JSON,
)
def cancel_job(store: LedgerDep, job_id: JobRef) -> Json:
    return actions.cancel_job(store, job_id).to_dict(include_chunks=False)


@router.post(
    "/jobs/{job_id}/resume",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(require_token)],
    summary="Start a job for the chunks that did not complete",
    openapi_extra=NO_INPUT_JSON,
    name="resume_job",  # the route's name makes its OpenAPI operationId: kept stable
)
def resume_from_web(
    settings: SettingsDep, store: LedgerDep, launcher: LauncherDep, job_id: JobRef
) -> Json:
    return actions.start_resume(settings, store, launcher, job_id).to_dict()


@router.get("/settings", tags=["settings"], summary="The settings, secrets masked")
def get_settings_view(settings: SettingsDep, store: LedgerDep) -> Json:
    default = store.default_sync_size()
    return {
        "settings": public_settings(settings),
        "default_sync_size": (default or settings.sync_size).value,
        "tenants": {t: s.value for t, s in store.tenant_sync_sizes().items()},
    }


@router.put(
    "/settings/tenants/{tenant}",
    tags=["settings"],
    dependencies=[Depends(require_token)],
    summary="Store a tenant's Sync Size",
)
def put_tenant_size(
    store: LedgerDep,
    tenant: Annotated[str, Path(pattern=TENANT_PATTERN.pattern)],
    body: SyncSizeIn,
) -> Json:
    store.set_tenant_sync_size(tenant, body.sync_size)
    return {"tenant": tenant, "sync_size": body.sync_size.value if body.sync_size else None}


@router.put(
    "/settings/default",
    tags=["settings"],
    dependencies=[Depends(require_token)],
    summary="Store the default Sync Size (over JOBSVIEW_SYNC_SIZE)",
)
def put_default_size(body: SyncSizeIn, settings: SettingsDep, store: LedgerDep) -> Json:
    store.set_default_sync_size(body.sync_size)
    return {"default_sync_size": (body.sync_size or settings.sync_size).value}
