"""The web Jobs View: server-rendered pages, live updates, and a JSON API."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import (
    ChunkNotFoundError,
    ConfigError,
    InvalidInputError,
    JobConflictError,
    JobIdTakenError,
    JobNotFoundError,
    JobStateError,
    JobsViewError,
    TenantNotFoundError,
)
from core.settings import Settings
from core.validation import plain_message
from flows.settle import reconcile
from views.web import api, pages
from views.web.launcher import Launcher
from views.web.security import Guard

HERE = Path(__file__).parent
log = logging.getLogger(__name__)

_STATUS_BY_ERROR: list[tuple[type[JobsViewError], int]] = [
    (JobNotFoundError, 404),
    (ChunkNotFoundError, 404),
    (TenantNotFoundError, 404),
    (JobConflictError, 409),
    (JobIdTakenError, 409),
    (JobStateError, 409),
    (InvalidInputError, 422),
    (ConfigError, 503),
    (JobsViewError, 500),
]


def _reconcile_forever(settings: Settings, stop: threading.Event) -> None:
    """Settle jobs whose process died, as ``jobsview reconcile`` would, every so often."""
    while not stop.wait(max(settings.stale_after_seconds / 2, 1.0)):
        try:
            for job in reconcile(settings):
                log.warning("reconciled job %s: %s", job.id, job.status.value)
        except Exception as exc:  # the next round tries again
            log.warning("reconcile failed: %s", exc)


def error_response(
    request: Request, message: str, code: int, headers: Mapping[str, str] | None = None
) -> Response:
    """JSON for the API, the HTML error page for pages."""
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": message}, status_code=code, headers=headers)
    answer = pages.error_page(request, message, code)
    answer.headers.update(headers or {})
    return answer


def create_app(
    settings: Settings, launcher: Launcher | None = None, *, reconcile_in_background: bool = True
) -> FastAPI:
    """The web Jobs View with these settings; its background jobs run with them too."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        if reconcile_in_background:
            threading.Thread(target=_reconcile_forever, args=(settings, stop), daemon=True).start()
        try:
            yield
        finally:
            stop.set()
            app.state.launcher.close()

    app = FastAPI(
        title="Jobs View",
        summary="Chunked per-tenant sync jobs on Prefect: status, chunks, cancel and resume.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # pages.api_docs serves /docs from static files; no CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.launcher = launcher or Launcher(settings)
    # Per process: a restart makes open pages' forms stale, and they say to reload.
    app.state.csrf_secret = secrets.token_bytes(32)
    app.add_middleware(
        Guard,
        allowed_hosts=settings.allowed_hosts,
        secret=app.state.csrf_secret,
        refuse=error_response,
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)

    @app.exception_handler(JobsViewError)
    async def jobs_view_error(request: Request, exc: JobsViewError) -> Response:
        code = next(code for kind, code in _STATUS_BY_ERROR if isinstance(exc, kind))
        if request.url.path.startswith("/api/") and isinstance(exc, JobConflictError):
            body = {"detail": str(exc), "blocking_job_id": exc.blocking_job_id}
            return JSONResponse(body, status_code=code)
        return error_response(request, str(exc), code)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        """The API keeps FastAPI's list of errors; a page says what was wrong in words."""
        errors = jsonable_encoder(exc.errors())
        for error in errors:
            error["msg"] = plain_message(str(error.get("msg", "")))
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": errors}, status_code=422)
        said = "; ".join(
            f"{error['loc'][-1]}: {error['msg']}" if error.get("loc") else error["msg"]
            for error in errors
        )
        return error_response(request, f"invalid request: {said}", 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return error_response(request, str(exc.detail), exc.status_code, exc.headers)

    return app
