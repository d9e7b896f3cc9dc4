"""The recurring syncs, read from ``deployments/tenants.toml``: one deployment per tenant and
sync type, each with its schedule, tags and parameters."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect.client.schemas.schedules import CronSchedule
from pydantic import ValidationError

from core.errors import ConfigError, InvalidInputError
from core.validation import SyncType, validate_tenant

TENANTS_FILE = Path(__file__).with_name("tenants.toml")
FLOW_NAME = "sync-job"
ENTRYPOINT = "flows.sync_job:sync_job"
# What a tenant gets unless [defaults] or its own table says otherwise.
BUILT_IN = {
    "timezone": "UTC",
    "partial": "0 * * * *",
    "full": "30 2 * * *",
    "work_pool": "jobsview",
}


@dataclass(frozen=True)
class DeploymentSpec:
    """One recurring sync: a tenant, a sync type and when it runs."""

    tenant: str
    sync_type: SyncType
    cron: str
    timezone: str
    work_pool: str

    @property
    def name(self) -> str:
        return deployment_name(self.tenant, self.sync_type)

    @property
    def parameters(self) -> dict[str, str]:
        return {"tenant": self.tenant, "sync_type": self.sync_type.value}

    @property
    def tags(self) -> list[str]:
        return ["jobsview", f"tenant:{self.tenant}", f"sync-type:{self.sync_type.value}"]

    @property
    def description(self) -> str:
        return (
            f"{self.sync_type.value.capitalize()} sync of tenant {self.tenant}, "
            f"on cron {self.cron!r} ({self.timezone})."
        )


def deployment_name(tenant: str, sync_type: SyncType | str) -> str:
    """``acme-full``: a tenant has one deployment per sync type (``sync-job/acme-full``)."""
    return f"{tenant}-{SyncType(sync_type).value}"


def load_specs(path: Path = TENANTS_FILE) -> list[DeploymentSpec]:
    """Every deployment the file describes, tenants in file order, partial before full."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    defaults = _section(data.get("defaults", {}), path, "[defaults]")
    tenants = data.get("tenants", {})
    if not isinstance(tenants, dict) or not tenants:
        raise ConfigError(f"{path}: name at least one tenant, e.g. [tenants.acme]")
    specs = []
    for tenant, overrides in tenants.items():
        where = f"[tenants.{tenant}]"
        try:
            validate_tenant(tenant)
        except InvalidInputError as exc:
            raise ConfigError(f"{path} {where}: {exc}") from None
        merged = BUILT_IN | defaults | _section(overrides, path, where)
        timezone = str(merged["timezone"])
        for kind in (SyncType.PARTIAL, SyncType.FULL):
            cron = _schedule(merged[kind.value], timezone, f"{path} {where} {kind.value}")
            specs.append(DeploymentSpec(tenant, kind, cron, timezone, str(merged["work_pool"])))
    return specs


def _section(value: Any, path: Path, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{path} {where}: expected a table of settings")
    unknown = set(value) - BUILT_IN.keys()
    if unknown:
        known = ", ".join(sorted(BUILT_IN))
        raise ConfigError(f"{path} {where}: unknown setting {sorted(unknown)[0]!r}; use {known}")
    return value


def _schedule(cron: Any, timezone: str, where: str) -> str:
    if not isinstance(cron, str) or len(cron.split()) != 5:
        raise ConfigError(f"{where}: {cron!r} is not a five-field cron; e.g. '0 * * * *'")
    try:
        CronSchedule(cron=cron, timezone=timezone)
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise ConfigError(
            f"{where}: cron {cron!r} in timezone {timezone!r}: {problem} "
            "(use a five-field cron and an IANA timezone such as 'UTC' or 'Europe/Berlin')"
        ) from None
    return cron
