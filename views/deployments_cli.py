"""``jobsview deployments serve|render``: the recurring syncs of ``deployments/tenants.toml``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.settings import load_settings
from views.console import err, fail, handles_errors, out

deployments_app = typer.Typer(
    help="Recurring syncs: serve them, or render prefect.yaml for `prefect deploy`.",
    no_args_is_help=True,
)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="The tenants file (default: deployments/tenants.toml)."),
]


@deployments_app.command("serve")
@handles_errors
def serve(config: ConfigOpt = None) -> None:
    """Serve every deployment from this process (no work pool): schedules, the Prefect UI's
    Run button and the auto-resume automation all start runs here, until Ctrl-C."""
    from deployments import load_specs, serve_all
    from views.prefect_setup import prepare_prefect

    settings = load_settings()
    specs = load_specs(config) if config else load_specs()
    prepare_prefect()
    err.print(f"Serving {len(specs)} deployments of flow sync-job, and maintenance; Ctrl-C stops.")
    serve_all(specs, settings)


@deployments_app.command("render")
@handles_errors
def render(
    config: ConfigOpt = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Where to write (default: prefect.yaml).")
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Only check that the file is up to date.")
    ] = False,
) -> None:
    """Write prefect.yaml from the tenants file, for `prefect deploy --all`."""
    from deployments import load_specs
    from deployments.render import PREFECT_FILE
    from deployments.render import render as render_yaml

    settings = load_settings()
    specs = load_specs(config) if config else load_specs()
    text = render_yaml(
        specs,
        settings.auto_resume_attempts,
        settings.auto_resume_delay_seconds,
        settings.stale_after_seconds,
    )
    target = output or PREFECT_FILE
    if check:
        current = target.read_text() if target.exists() else ""
        if current != text:
            fail(f"{target} is out of date: run `jobsview deployments render`")
        out.print(f"{target} is up to date.", markup=False)
        return
    target.write_text(text)
    out.print(f"Wrote {len(specs)} sync deployments and maintenance to {target}.", markup=False)
