"""``prefect.yaml`` for ``prefect deploy --all``, rendered from ``tenants.toml``.

What every deployment shares sits once under ``definitions:`` and is merged in with YAML
anchors: the process work pool, the one-run-per-tenant-and-type concurrency limit, the
schedules, and the auto-resume triggers. The maintenance deployment comes last. A test keeps
the committed file equal to a render.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from deployments import maintenance
from deployments.auto_resume import INCOMPLETE_EVENT, RESUME_OF_TEMPLATE, auto_resumes
from deployments.config import ENTRYPOINT, DeploymentSpec

PREFECT_FILE = Path(__file__).resolve().parent.parent / "prefect.yaml"


def _q(value: object) -> str:
    """A YAML scalar: JSON's quoting is valid YAML and keeps every value a literal."""
    return json.dumps(value)


def _anchor(*parts: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", "_".join(parts).lower()).strip("_")


def _schedule_anchor(cron: str, timezone: str, n: int) -> str:
    """``hourly_at_00_utc``, ``every_30_min_utc``, ``daily_at_0230_utc``, else ``cron_{n}_...``."""
    minute, hour, *rest = cron.split()
    if rest == ["*", "*", "*"] and minute.isdigit() and hour == "*":
        name = f"hourly_at_{int(minute):02d}"
    elif rest == ["*", "*", "*"] and minute.startswith("*/") and hour == "*":
        name = f"every_{minute[2:]}_min"
    elif rest == ["*", "*", "*"] and minute.isdigit() and hour.isdigit():
        name = f"daily_at_{int(hour):02d}{int(minute):02d}"
    else:
        name = f"cron_{n}"
    return _anchor(name, timezone)


def maintenance_pool(specs: list[DeploymentSpec]) -> str:
    """The work pool most tenants use (the first one's, on a tie): maintenance runs there."""
    pools = Counter(s.work_pool for s in specs)
    return max(pools, key=lambda pool: (pools[pool], -[s.work_pool for s in specs].index(pool)))


def render(
    specs: list[DeploymentSpec], attempts: int, delay_seconds: float, stale_after_seconds: float
) -> str:
    pools = sorted({s.work_pool for s in specs})
    upkeep = maintenance.Maintenance(stale_after_seconds)
    schedules = list(dict.fromkeys((s.cron, s.timezone) for s in specs))
    schedule_anchor = {key: _schedule_anchor(*key, n) for n, key in enumerate(schedules, start=1)}
    lines = [
        "# Recurring syncs for `prefect deploy --all`, rendered from deployments/tenants.toml by",
        "# `jobsview deployments render`: edit that file and render again, not this one.",
        "#",
        "# Workers need the project installed (`pip install -e .`) and its settings in their",
        "# environment: JOBSVIEW_DATABASE_URL, JOBSVIEW_SOURCE_URL, and the source token as",
        "# JOBSVIEW_SOURCE_TOKEN or a Prefect Secret block named by JOBSVIEW_SOURCE_TOKEN_BLOCK.",
        "# Nothing secret is written here.",
        "name: jobsview",
        'prefect-version: "3"',
        "",
        "# The entrypoint is a module of the installed package: there is nothing to pull.",
        "pull: []",
        "",
        "definitions:",
        "  work_pools:",
    ]
    for pool in pools:
        lines += [
            f"    {_anchor(pool)}: &{_anchor('pool', pool)}",
            f"      name: {_q(pool)}",
            f"      work_queue_name: {_q('default')}",
        ]
    lines += [
        "  # One queued or running job per tenant and type, as the ledger allows: a run that",
        "  # collides waits for the slot (AwaitingConcurrencySlot, queued in the Jobs View).",
        "  concurrency_limits:",
        "    one_at_a_time: &one_at_a_time",
        "      limit: 1",
        "      collision_strategy: ENQUEUE",
        "  schedules:",
    ]
    for cron, timezone in schedules:
        lines += [
            f"    {schedule_anchor[(cron, timezone)]}: &{schedule_anchor[(cron, timezone)]}",
            f"      cron: {_q(cron)}",
            f"      timezone: {_q(timezone)}",
        ]
    lines += [
        "  # Auto-resume: attempt n matches an incomplete job whose chain has n - 1 resumes.",
        "  auto_resume: &auto_resume",
        "    enabled: true",
        f"    expect: [{_q(INCOMPLETE_EVENT)}]",
        "    parameters:",
        f"      resume_of: {_q(RESUME_OF_TEMPLATE)}",
        "  sync_job: &sync_job",
        f"    entrypoint: {_q(ENTRYPOINT)}",
        "    concurrency_limit: *one_at_a_time",
        "",
        "deployments:",
    ]
    for spec in specs:
        lines += [
            "  - <<: *sync_job",
            f"    name: {_q(spec.name)}",
            f"    description: {_q(spec.description)}",
            f"    work_pool: *{_anchor('pool', spec.work_pool)}",
            f"    tags: [{', '.join(_q(t) for t in spec.tags)}]",
            f"    parameters: {{tenant: {_q(spec.tenant)}, sync_type: {_q(spec.sync_type.value)}}}",
            f"    schedules: [*{schedule_anchor[(spec.cron, spec.timezone)]}]",
        ]
        resumes = auto_resumes(spec.name, attempts, delay_seconds)
        lines.append("    triggers:" if resumes else "    triggers: []")
        for resume in resumes:
            fields = resume.yaml_fields()
            match = ", ".join(f"{_q(k)}: {_q(v)}" for k, v in fields["match"].items())
            lines += [
                "      - <<: *auto_resume",
                f"        name: {_q(fields['name'])}",
                f"        match: {{{match}}}",
                f"        schedule_after: {fields['schedule_after']:g}",
            ]
    related = ", ".join(f"{_q(k)}: {_q(v)}" for k, v in maintenance.SYNC_FLOW_RUNS.items())
    lines += [
        "  # Settles jobs whose run died (and sends their outcome events, for the auto-resume):",
        "  # `jobsview reconcile` on a schedule, and at once when a sync-job run crashes.",
        f"  - name: {_q(maintenance.NAME)}",
        f"    entrypoint: {_q(maintenance.ENTRYPOINT)}",
        f"    description: {_q(upkeep.description)}",
        f"    work_pool: *{_anchor('pool', maintenance_pool(specs))}",
        f"    tags: [{', '.join(_q(t) for t in maintenance.TAGS)}]",
        f"    schedules: [{{interval: {upkeep.every_seconds}}}]",
        "    triggers:",
        f"      - name: {_q(upkeep.trigger_name)}",
        "        enabled: true",
        f"        expect: [{_q(maintenance.CRASHED_EVENT)}]",
        f"        match_related: {{{related}}}",
    ]
    return "\n".join(lines) + "\n"
