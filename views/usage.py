"""Usage errors (exit code 2) as one JSON document, for a command asked for ``--json``.

Click reports a bad option value, a missing option or argument, or an unknown option on
stderr and exits with code 2. A command that takes ``--json`` and was given it also prints
``{"error": "..."}`` on stdout, so its stdout is one JSON document on every path.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup

try:  # typer carries its own copy of click since 0.2x
    from typer._click import Context
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - older typer on click itself
    from click import Context  # type: ignore[assignment]
    from click.exceptions import UsageError  # type: ignore[assignment]

from views.console import emit_json

RAW_ARGS = "jobsview.raw_args"


def _takes_json(ctx: Context | None) -> bool:
    if ctx is None:
        return False
    return any("--json" in getattr(param, "opts", ()) for param in ctx.command.params)


def _asked_for_json(args: list[str]) -> bool:
    return "--json" in (args[: args.index("--")] if "--" in args else args)


class JsonUsageGroup(TyperGroup):
    """The top ``jobsview`` group: usage errors of ``--json`` commands in JSON too."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        ctx.meta.setdefault(RAW_ARGS, list(args))
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            if _takes_json(exc.ctx) and _asked_for_json(ctx.meta.get(RAW_ARGS, [])):
                emit_json({"error": exc.format_message()})
            raise  # click's own message on stderr, and exit code 2
