"""Commands that serve things: the web Jobs View, the demo source, the quickstart, schemas."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from core.errors import JobsViewError
from core.settings import load_settings
from core.validation import SyncType, validate_resource
from views.console import (
    JsonOpt,
    err,
    fail,
    finish,
    handles_errors,
    open_ledger,
    out,
    run_job,
)

if TYPE_CHECKING:
    from demo.faults import MalformedRule


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8080,
) -> None:
    """The web Jobs View: jobs list, job detail, Settings and the JSON API (at /docs)."""
    import uvicorn

    from views.logs import serve_log_file
    from views.prefect_setup import configured_api, tie_temporary_server
    from views.web import Launcher, create_app
    from views.web.security import is_loopback

    try:
        settings = load_settings()
    except JobsViewError as exc:
        fail(str(exc))
    if not is_loopback(host) and settings.api_token is None:
        fail(f"refusing to listen on {host} without JOBSVIEW_API_TOKEN: set one, or use 127.0.0.1")
    if not is_loopback(host) and not settings.allowed_hosts:
        err.print(
            f"warning: browsers reaching {host} by a name other than localhost or 127.0.0.1 "
            "get 400: list that name in JOBSVIEW_ALLOWED_HOSTS",
            markup=False,
        )
    if not configured_api():  # the temporary Prefect server background jobs share
        tie_temporary_server()
    log_file = serve_log_file()
    err.print(
        f"Jobs View on http://{host}:{port} (background jobs log to {log_file})", markup=False
    )
    app = create_app(settings, Launcher(settings, log_file))
    uvicorn.run(app, host=host, port=port, log_level="warning")


def malformed_rules(specs: list[str], resources: tuple[str, ...]) -> list[MalformedRule]:
    """``deals:400`` as a rule for deals at offset 400; ``400`` for each of ``resources``."""
    from demo.faults import MalformedRule

    rules = []
    for spec in specs:
        resource, _, offset = spec.rpartition(":")
        if not offset.isdigit():
            raise typer.BadParameter(
                f"{spec!r}: give an offset, or a resource and an offset, e.g. deals:400",
                param_hint="--malformed-at",
            )
        try:
            names = [validate_resource(resource)] if resource else list(resources)
        except JobsViewError as exc:
            raise typer.BadParameter(str(exc), param_hint="--malformed-at") from None
        rules += [MalformedRule(resource=name, offset=int(offset)) for name in names]
    return rules


def demo_source(
    port: Annotated[int, typer.Option(min=0, max=65535)] = 8765,
    host: str = "127.0.0.1",
    token: Annotated[str | None, typer.Option(help="Require this bearer token.")] = None,
    page_cap: Annotated[
        int | None, typer.Option(min=1, help="Serve at most this many items per page.")
    ] = None,
    rate_429: Annotated[
        float, typer.Option(min=0, max=1, help="Share of requests answered 429.")
    ] = 0.0,
    max_rps: Annotated[
        float | None,
        typer.Option(min=0.1, help="Answer 429 beyond this many requests per second per tenant."),
    ] = None,
    rate_5xx: Annotated[float, typer.Option(min=0, max=1, help="Share answered 5xx.")] = 0.0,
    rate_drop: Annotated[
        float, typer.Option(min=0, max=1, help="Share of dropped connections.")
    ] = 0.0,
    slow_ms: Annotated[int, typer.Option(min=0, help="Delay per page, in ms.")] = 0,
    malformed_at: Annotated[
        list[str] | None,
        typer.Option(
            metavar="[RESOURCE:]OFFSET",
            help="Answer the page at this offset with a 200 that is not JSON, e.g. deals:400 "
            "(every resource of JOBSVIEW_RESOURCES without one). Repeatable.",
        ),
    ] = None,
) -> None:
    """Serve the bundled demo source API (deterministic records, switchable faults)."""
    from demo.source import DemoFaults, serve_forever

    specs = malformed_at or []
    faults = DemoFaults(
        token=token,
        page_cap=page_cap,
        rate_429=rate_429,
        max_rps=max_rps,
        rate_5xx=rate_5xx,
        rate_drop=rate_drop,
        slow_ms=slow_ms,
        malformed=malformed_rules(specs, _resources() if any(":" not in s for s in specs) else ()),
    )
    err.print(
        f"Demo source on http://{host}:{port} (tenants acme, globex, initech). Ctrl-C stops.",
        markup=False,
    )
    serve_forever(host=host, port=port, faults=faults)


def _resources() -> tuple[str, ...]:
    """JOBSVIEW_RESOURCES, for a --malformed-at rule that names no resource."""
    try:
        return load_settings().resources
    except JobsViewError as exc:
        raise typer.BadParameter(str(exc), param_hint="--malformed-at") from None


@handles_errors
def demo(as_json: JsonOpt = False) -> None:
    """The quickstart: start the demo source, run a full sync of tenant acme, print the tree."""
    from core.db import safe_url
    from demo.source import DemoSourceServer

    with DemoSourceServer() as server:
        settings = load_settings(source_url=server.url)
        run = run_job(settings, "acme", SyncType.FULL, None, as_json)
    job_id = run.job.id
    finish(
        run,
        as_json,
        note=f"\nThe job is in the ledger at {safe_url(settings.database_url)}. Open the "
        f"web Jobs View with `jobsview serve`, then http://127.0.0.1:8080/jobs/{job_id} ; or "
        f"look again here with `jobsview show {job_id[:8]}`.",
    )


@handles_errors
def db_upgrade() -> None:
    """Apply the migrations to the ledger and the destination databases."""
    from connectors.destination import get_destination
    from core.db import safe_url

    settings = load_settings()
    open_ledger(settings)
    get_destination(settings.destination)
    out.print(f"ledger {safe_url(settings.database_url)}: up to date", markup=False)
    out.print(f"destination {safe_url(settings.destination)}: up to date", markup=False)
