"""``jobsview settings show|set``: the settings, secrets masked, and tenants' Sync Sizes."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from chunking import SyncSize
from core.errors import JobsViewError
from core.redact import redact_url
from core.settings import ENV_PREFIX, Settings, get_settings
from core.validation import validate_tenant
from ledger.store import get_ledger

settings_app = typer.Typer(
    help="Show the settings; store a tenant's Sync Size.", no_args_is_help=True
)
out = Console(highlight=False)

MASK = "********"
URL_FIELDS = ("database_url", "destination_url", "source_url", "dask_address")


def public_settings(settings: Settings) -> dict[str, Any]:
    """Every setting by its variable name; secrets masked, database passwords hidden."""
    shown: dict[str, Any] = {}
    for name, value in settings.model_dump(mode="json").items():
        if name.endswith("_token"):
            value = MASK if value else None
        elif name in URL_FIELDS and value:
            value = redact_url(value)
        elif isinstance(value, list):
            value = ",".join(value)
        shown[f"{ENV_PREFIX}{name.upper()}"] = value
    return shown


def _fail(exc: JobsViewError) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/red] {exc}", highlight=False)
    return typer.Exit(1)


@settings_app.command("show")
def show(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The settings in force (secrets masked) and the Sync Size stored per tenant."""
    try:
        settings = get_settings()
        tenants = get_ledger(settings.database_url).tenant_sync_sizes()
    except JobsViewError as exc:
        raise _fail(exc) from None
    shown = public_settings(settings)
    if as_json:
        document = {"settings": shown, "tenants": {t: s.value for t, s in tenants.items()}}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    table = Table("variable", "value")
    for name, value in shown.items():
        table.add_row(name, "(unset)" if value is None else str(value))
    out.print(table)
    if tenants:
        per_tenant = Table("tenant", "Sync Size", "records per chunk")
        for tenant, size in tenants.items():
            per_tenant.add_row(tenant, size.value, f"{size.chunk_size:,}")
        out.print(per_tenant)


@settings_app.command("set")
def set_(
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Tenant name.")],
    sync_size: Annotated[SyncSize, typer.Option("--sync-size", help="Records per chunk.")],
) -> None:
    """Store a tenant's Sync Size: the default for its runs without --sync-size."""
    try:
        validate_tenant(tenant)
    except JobsViewError as exc:
        raise typer.BadParameter(str(exc), param_hint="--tenant") from None
    try:
        get_ledger(get_settings().database_url).set_tenant_sync_size(tenant, sync_size)
    except JobsViewError as exc:
        raise _fail(exc) from None
    out.print(f"{tenant}: Sync Size {sync_size.value} ({sync_size.chunk_size:,} records per chunk)")
