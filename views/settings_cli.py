"""``jobsview settings show|set|forget``: the settings, secrets masked, and tenants' Sync
Sizes; forgetting a tenant that has no jobs (a misspelled name, as a rule)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from chunking import SyncSize
from core.db import safe_url
from core.errors import JobsViewError
from core.redact import redact_url
from core.settings import ENV_PREFIX, Settings, load_settings
from core.validation import validate_tenant
from views.console import JsonOpt, emit_json, handles_errors, open_ledger

settings_app = typer.Typer(
    help="Show the settings; store a tenant's Sync Size; forget a tenant without jobs.",
    no_args_is_help=True,
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


@settings_app.command("show")
@handles_errors
def show(as_json: JsonOpt = False) -> None:
    """The settings in force (secrets masked) and the Sync Size stored per tenant."""
    settings = load_settings()
    store = open_ledger(settings)
    tenants = store.tenant_sync_sizes()
    jobless = store.tenants_without_jobs()
    shown = public_settings(settings)
    if as_json:
        document = {
            "settings": shown,
            "tenants": {t: s.value for t, s in tenants.items()},
            "destination_in_use": safe_url(settings.destination),
            "tenants_without_jobs": jobless,
        }
        emit_json(document)
        return
    table = Table("variable", "value")
    for name, value in shown.items():
        if name == f"{ENV_PREFIX}DESTINATION_URL" and value is None:
            value = f"{safe_url(settings.destination)} (from {ENV_PREFIX}DATABASE_URL)"
        table.add_row(Text(name), Text("(unset)" if value is None else str(value)))
    out.print(table)
    if tenants:
        per_tenant = Table("tenant", "Sync Size", "records per chunk")
        for tenant, size in tenants.items():
            per_tenant.add_row(Text(tenant), Text(size.value), Text(f"{size.chunk_size:,}"))
        out.print(per_tenant)
    for tenant in jobless:
        out.print(
            f"{tenant} has no jobs (a misspelled name?): forget it with "
            f"`jobsview settings forget --tenant {tenant}`",
            markup=False,
            soft_wrap=True,
        )


@settings_app.command("set")
@handles_errors
def set_(
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Tenant name.")],
    sync_size: Annotated[SyncSize, typer.Option("--sync-size", help="Records per chunk.")],
) -> None:
    """Store a tenant's Sync Size: the default for its runs without --sync-size."""
    try:
        validate_tenant(tenant)
    except JobsViewError as exc:
        raise typer.BadParameter(str(exc), param_hint="--tenant") from None
    open_ledger(load_settings()).set_tenant_sync_size(tenant, sync_size)
    out.print(
        f"{tenant}: Sync Size {sync_size.value} ({sync_size.chunk_size:,} records per chunk)",
        markup=False,
    )


@settings_app.command("forget")
@handles_errors
def forget(tenant: Annotated[str, typer.Option("--tenant", "-t", help="Tenant name.")]) -> None:
    """Forget a tenant that has no jobs: its stored Sync Size and watermarks. A tenant with
    jobs is refused: its history stays."""
    try:
        validate_tenant(tenant)
    except JobsViewError as exc:
        raise typer.BadParameter(str(exc), param_hint="--tenant") from None
    open_ledger(load_settings()).forget_tenant(tenant)
    out.print(f"Forgot tenant {tenant}: it had no jobs.", markup=False)
