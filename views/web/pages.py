"""Server-rendered pages (readable without JavaScript) and the fragments that keep them live."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from chunking import SyncSize
from core.db import utcnow
from core.validation import parse_sync_size, parse_sync_type, validate_tenant
from ledger.models import ChunkStatus, Job, JobStatus
from ledger.render import (
    drift_text,
    duration,
    progress_text,
    render_tree,
    short_error,
    window_text,
)
from ledger.store import Ledger
from ledger.tenants import DEFAULT_KEY
from views.web import actions, present
from views.web.deps import LauncherDep, LedgerDep, SettingsDep
from views.web.security import csrf_token, form_fields, require_token, token_required

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals.update(
    window_text=window_text,
    progress_text=progress_text,
    drift_text=drift_text,
    duration=duration,
    short_error=short_error,
    token_required=token_required,
    csrf_token=csrf_token,
)

PAGE_SIZE = 50
SINCE_CHOICES = {
    "": None,
    "1h": timedelta(hours=1),
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
}


@dataclass(frozen=True)
class Row:
    job: Job
    progress: present.Progress
    previous: Job | None

    @property
    def unclean(self) -> bool:
        """The previous job of the same tenant and type did not finish cleanly (and this job
        is not its resume: a resume exists because of it)."""
        previous = self.previous
        if previous is None or previous.id == self.job.parent_id:
            return False
        return previous.status is not JobStatus.COMPLETED


def error_page(request: Request, message: str, code: int) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "error.html", {"message": message, "code": code}, status_code=code
    )


def _list_context(
    store: Ledger, tenant: str | None, status: JobStatus | None, since: str, page: int
) -> dict[str, Any]:
    if tenant:
        validate_tenant(tenant)
    window = SINCE_CHOICES.get(since)
    found = store.list_jobs(
        tenant=tenant or None,
        status=status,
        since=utcnow() - window if window else None,
        limit=PAGE_SIZE + 1,
        offset=(page - 1) * PAGE_SIZE,
    )
    shown = found[:PAGE_SIZE]
    previous = store.previous_jobs([job.id for job in shown])  # one query, not one per row
    rows = [Row(job, present.progress(job), previous.get(job.id)) for job in shown]
    return {
        "rows": rows,
        "counts": store.status_counts(tenant or None),
        "filters": {
            "tenant": tenant or "",
            "status": status.value if status else "",
            "since": since,
        },
        "page": page,
        "has_next": len(found) > PAGE_SIZE,
        "live": page == 1 or any(not r.job.status.finished for r in rows),
        "statuses": list(JobStatus),
        "sizes": list(SyncSize),
        "since_choices": list(SINCE_CHOICES),
    }


ListFilters = Annotated[str | None, Query(max_length=63)]
PageNumber = Annotated[int, Query(ge=1, le=100_000)]
Since = Annotated[str, Query(pattern="^(|1h|24h|7d)$")]


def _jobs_view(template: str) -> Callable[..., Response]:
    """The jobs list, as a whole page or as the fragment the page polls."""

    def view(
        request: Request,
        store: LedgerDep,
        tenant: ListFilters = None,
        status: JobStatus | None = None,
        since: Since = "",
        page: PageNumber = 1,
    ) -> Response:
        context = _list_context(store, tenant, status, since, page)
        return templates.TemplateResponse(request, template, context)

    return view


router.add_api_route("/", _jobs_view("jobs.html"), response_class=HTMLResponse)
router.add_api_route("/fragments/jobs", _jobs_view("_jobs_body.html"), response_class=HTMLResponse)


def _job_context(store: Ledger, job_id: str, page: int, failed: bool) -> dict[str, Any]:
    """One page of the job's chunks; the strip and the timeline's span summarise them all."""
    per_page = present.CHUNKS_PER_PAGE
    only = ChunkStatus.FAILED if failed else None

    def load(page: int) -> Job:
        offset = (page - 1) * per_page
        return store.get_job(job_id, chunk_offset=offset, chunk_limit=per_page, chunk_status=only)

    job = load(max(page, 1))
    pages = present.pages_of(job, failed)
    if page > pages:  # past the end: the last page, as before
        page, job = pages, load(pages)
    shown = job.chunks or ()
    return {
        "job": job,
        "progress": present.progress(job),
        "tree": render_tree(job),
        "bars": present.timeline(store.chunk_span(job.id), shown),
        "strip": store.chunk_strip(job.id, present.STRIP_CELLS),
        "page": max(page, 1),
        "pages": pages,
        "failed": failed,
        "failed_count": job.counts[ChunkStatus.FAILED],
        "unfinished": job.total_chunks - job.counts[ChunkStatus.COMPLETED],
    }


def _job_view(template: str) -> Callable[..., Response]:
    """One job, as a whole page or as the fragment the page polls."""

    def view(
        request: Request,
        store: LedgerDep,
        launcher: LauncherDep,
        job_id: str,
        page: PageNumber = 1,
        failed: bool = False,
    ) -> Response:
        context = _job_context(store, job_id, page, failed)
        context["prefect_ui"] = launcher.ui_url()
        return templates.TemplateResponse(request, template, context)

    return view


router.add_api_route("/jobs/{job_id}", _job_view("job.html"), response_class=HTMLResponse)
router.add_api_route(
    "/fragments/jobs/{job_id}", _job_view("_job_body.html"), response_class=HTMLResponse
)


@router.post("/jobs", dependencies=[Depends(require_token)])
async def start_job_form(
    request: Request, settings: SettingsDep, store: LedgerDep, launcher: LauncherDep
) -> Response:
    form = await form_fields(request)
    size = parse_sync_size(form["sync_size"]) if form.get("sync_size") else None
    job = actions.start_job(
        settings,
        store,
        launcher,
        validate_tenant(form.get("tenant", "")),
        parse_sync_type(form.get("sync_type", "")),
        size,
    )
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.post("/jobs/{job_id}/cancel", dependencies=[Depends(require_token)])
def cancel_form(store: LedgerDep, job_id: str) -> Response:
    job = actions.cancel_job(store, job_id)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.post("/jobs/{job_id}/resume", dependencies=[Depends(require_token)])
def resume_form(
    settings: SettingsDep, store: LedgerDep, launcher: LauncherDep, job_id: str
) -> Response:
    job = actions.start_resume(settings, store, launcher, job_id)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> Response:
    """Swagger UI from this server's own static files (FastAPI's default loads a CDN)."""
    openapi_url = request.app.openapi_url or "/openapi.json"
    return templates.TemplateResponse(request, "docs.html", {"openapi_url": openapi_url})


@router.get("/settings", response_class=HTMLResponse)
def settings_page(
    request: Request,
    settings: SettingsDep,
    store: LedgerDep,
    saved: Annotated[str, Query(max_length=80)] = "",
    forgot: Annotated[str, Query(max_length=80)] = "",
) -> Response:
    stored = store.tenant_sync_sizes()
    jobless = set(store.tenants_without_jobs())
    tenants = []
    for tenant in sorted(set(store.tenants()) | jobless):
        last = next(iter(store.list_jobs(tenant=tenant, limit=1)), None)
        tenants.append(
            {
                "name": tenant,
                "size": stored.get(tenant),
                "at_each_size": present.chunks_at_each_size(last),
                "forgettable": tenant in jobless,
            }
        )
    context = {
        "tenants": tenants,
        "sizes": list(SyncSize),
        "stored_default": store.default_sync_size(),
        "env_default": settings.sync_size,
        "saved": saved,
        "forgot": forgot,
    }
    return templates.TemplateResponse(request, "settings.html", context)


@router.post("/settings", dependencies=[Depends(require_token)])
async def settings_form(request: Request, store: LedgerDep) -> Response:
    form = await form_fields(request)
    tenant = form.get("tenant", "")
    size = parse_sync_size(form["sync_size"]) if form.get("sync_size") else None
    if tenant == DEFAULT_KEY:
        store.set_default_sync_size(size)
    else:
        store.set_tenant_sync_size(validate_tenant(tenant), size)
    label = "the default" if tenant == DEFAULT_KEY else tenant
    return RedirectResponse(f"/settings?saved={quote(label)}", status_code=303)


@router.post("/settings/forget", dependencies=[Depends(require_token)])
async def forget_form(request: Request, store: LedgerDep) -> Response:
    """Forget a tenant without jobs (a typo's stored setting); refused, 409, if it has jobs."""
    tenant = validate_tenant((await form_fields(request)).get("tenant", ""))
    store.forget_tenant(tenant)
    return RedirectResponse(f"/settings?forgot={quote(tenant)}", status_code=303)
