"""The demo source: a FastAPI app serving the Source API contract, with switchable faults.

Source API::

    GET /tenants/{tenant}/{resource}?offset=0&limit=100[&updated_since=ISO-8601]

Admin endpoints (no auth; for tests, benchmarks and demos):

    GET  /_demo/stats                                  source requests by status ("dropped" too)
    POST /_demo/reset-stats                            zero the counters
    GET  /_demo/faults                                 the current faults (token masked)
    PUT  /_demo/faults                                 replace the faults (DemoFaults as JSON)
    GET  /_demo/tenants                                record counts per tenant and resource
    POST /_demo/tenants                                {"tenant", "counts": {res: n}, "id_style"}
    POST /_demo/tenants/{tenant}/{resource}/changes    see below → {"ids": [...], ...}

Changes, all or nothing, each step counting positions in the order the previous one left:
``{"delete": [pos], "insert_at": {"position": p, "count": n}, "update_at": [pos], "update": n,
"insert": m}`` (any of them) → ``{"deleted", "inserted", "updated", "appended", "ids": all}``;
404 for an unknown collection, 422 for a position out of range.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import threading
import time
from datetime import datetime
from types import TracebackType
from typing import Annotated, Any

import uvicorn
from fastapi import Body, FastAPI, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from core.errors import InvalidInputError
from demo.data import DemoStore, IdStyle, UnknownCollectionError
from demo.faults import (
    DemoFaults,
    DemoStats,
    DroppedResponse,
    MalformedRule,
    QuietDrops,
    StatsMiddleware,
    broken_page,
    json_response,
)
from demo.lies import Drip, DuplicateRule, HugeRecord

__all__ = [
    "DemoFaults",
    "DemoSourceServer",
    "DemoStats",
    "DemoStore",
    "Drip",
    "DuplicateRule",
    "HugeRecord",
    "MalformedRule",
    "create_app",
    "serve_forever",
]


class TenantIn(BaseModel):
    tenant: str
    counts: dict[str, Annotated[int, Field(ge=0, le=10_000_000)]]
    id_style: IdStyle = "int"


Position = Annotated[int, Field(ge=0)]


class InsertAtIn(BaseModel):
    position: Position
    count: Annotated[int, Field(ge=0, le=10_000_000)] = 1


class ChangesIn(BaseModel):
    update: Annotated[int, Field(ge=0)] = 0
    insert: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    delete: list[Position] = []
    insert_at: InsertAtIn | None = None
    update_at: list[Position] = []


def create_app(store: DemoStore | None = None, faults: DemoFaults | None = None) -> FastAPI:
    app = FastAPI(title="jobsview demo source", version="0.1", description=__doc__ or "")
    app.state.store = store if store is not None else DemoStore.default()
    app.state.faults = faults if faults is not None else DemoFaults()
    app.state.stats = DemoStats()
    app.add_middleware(StatsMiddleware, stats=app.state.stats)
    uvicorn_errors = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, QuietDrops) for f in uvicorn_errors.filters):
        uvicorn_errors.addFilter(QuietDrops())

    @app.get("/tenants/{tenant}/{resource}", summary="A page of a tenant's resource")
    async def read_page(
        request: Request,
        tenant: str,
        resource: str,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
        updated_since: datetime | None = None,
    ) -> Response:
        store: DemoStore = app.state.store
        faults: DemoFaults = app.state.faults
        if faults.token is not None:
            given = request.headers.get("authorization", "").encode()
            if not secrets.compare_digest(given, f"Bearer {faults.token}".encode()):
                raise HTTPException(
                    401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"}
                )
        if store.before_page is not None:  # outside the store's lock: it may change the store
            store.before_page(tenant, resource, offset, limit)
        first = 0 if faults.ignore_offset else offset
        try:
            # Reads first, so that a 404 stays a 404 whatever the dice say.
            limit_now = min(limit, faults.page_cap) if faults.page_cap else limit
            items, total = store.page(tenant, resource, first, limit_now, updated_since)
        except UnknownCollectionError as exc:
            raise HTTPException(404, str(exc)) from None
        if not faults.admit(tenant):
            return json_response(
                {"detail": f"over {faults.max_rps:g} requests per second (demo fault)"},
                429,
                {"Retry-After": f"{faults.retry_after:g}"},
            )
        roll = faults.roll()
        if roll < faults.rate_429:
            retry_after = f"{faults.retry_after:g}"
            return json_response(
                {"detail": "rate limited (demo fault)"}, 429, {"Retry-After": retry_after}
            )
        roll -= faults.rate_429
        if roll < faults.rate_5xx:
            return json_response(
                {"detail": "server error (demo fault)"}, faults.pick((500, 502, 503, 504))
            )
        roll -= faults.rate_5xx
        if roll < faults.rate_drop:
            return DroppedResponse()
        if faults.slow_ms:
            await asyncio.sleep(faults.slow_ms / 1000)
        if faults.lie_total is not None:
            total = faults.lie_total
        kind = faults.take_malformed(tenant, resource, offset)
        if kind is not None:
            return broken_page(kind, items, total)
        return faults.page_response(tenant, resource, offset, first, items, total)

    @app.get("/_demo/stats", tags=["demo admin"])
    async def get_stats() -> dict[str, Any]:
        return app.state.stats.snapshot()

    @app.post("/_demo/reset-stats", tags=["demo admin"])
    async def reset_stats() -> dict[str, Any]:
        app.state.stats.reset()
        return app.state.stats.snapshot()

    @app.get("/_demo/faults", tags=["demo admin"])
    async def get_faults() -> dict[str, Any]:
        return app.state.faults.public()

    @app.put("/_demo/faults", tags=["demo admin"])
    async def put_faults(new: Annotated[DemoFaults, Body()]) -> dict[str, Any]:
        app.state.faults.replace_with(new)
        return app.state.faults.public()

    @app.get("/_demo/tenants", tags=["demo admin"])
    async def get_tenants() -> dict[str, dict[str, int]]:
        return app.state.store.tenants()

    @app.post("/_demo/tenants", status_code=201, tags=["demo admin"])
    async def add_tenant(body: TenantIn) -> dict[str, dict[str, int]]:
        try:
            app.state.store.add_tenant(body.tenant, body.counts, body.id_style)
        except (InvalidInputError, ValueError) as exc:
            raise HTTPException(422, str(exc)) from None
        return {body.tenant: app.state.store.tenants()[body.tenant]}

    @app.post("/_demo/tenants/{tenant}/{resource}/changes", tags=["demo admin"])
    async def change(tenant: str, resource: str, body: ChangesIn) -> dict[str, Any]:
        insert_at = (body.insert_at.position, body.insert_at.count) if body.insert_at else None
        try:
            steps = body.model_dump(exclude={"insert_at"})
            return app.state.store.apply_changes(tenant, resource, insert_at=insert_at, **steps)
        except UnknownCollectionError as exc:
            raise HTTPException(404, str(exc)) from None
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None

    return app


class DemoSourceServer:
    """Runs the demo app with uvicorn in a daemon thread: ``with DemoSourceServer() as s: ...``."""

    def __init__(
        self,
        store: DemoStore | None = None,
        faults: DemoFaults | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.app = create_app(store, faults)
        self.host, self.port = host, port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the demo source is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def store(self) -> DemoStore:
        return self.app.state.store

    @property
    def faults(self) -> DemoFaults:
        return self.app.state.faults

    @property
    def stats(self) -> DemoStats:
        return self.app.state.stats

    def start(self, timeout: float = 10.0) -> DemoSourceServer:
        if self._server is not None:
            raise RuntimeError("the demo source is already started")
        # Bind here so the port (maybe chosen by the OS) is known before serving starts.
        # IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on sockets that say they are TCP,
        # and without it every response waits ~40 ms for a delayed ACK.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,  # leave the host process's logging alone
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="demo-source", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                self._server = self._thread = None
                sock.close()
                raise RuntimeError(f"the demo source did not start on {self.host}:{self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> DemoSourceServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_forever(
    host: str = "127.0.0.1",
    port: int = 8765,
    store: DemoStore | None = None,
    faults: DemoFaults | None = None,
    *,
    log_level: str = "info",
) -> None:
    """Serve the demo source until interrupted (``jobsview demo-source``)."""
    uvicorn.run(
        create_app(store, faults), host=host, port=port, log_level=log_level, access_log=False
    )
