"""What a flow run works with: its settings, and the ledger, source and destination they name.

A flow run's settings are its caller's (``use_settings``), or, for a run with no caller in
this process (a deployment's), the environment's, read once at its entry. The flow passes them
to its tasks, so a task on another process (a Dask worker) runs with the same ones.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from prefect import get_run_logger
from prefect.exceptions import MissingContextError
from pydantic import SecretStr
from rich.console import Console

from connectors.destination import Destination, get_destination
from connectors.source import RestSource
from core.errors import ConfigError
from core.settings import Settings, load_settings
from flows.pressure import SharedPressure
from ledger.store import Ledger, get_ledger

_CALLER_SETTINGS: ContextVar[Settings | None] = ContextVar("jobsview_settings", default=None)
_SIGNALS_CANCEL: ContextVar[bool] = ContextVar("jobsview_signals_cancel", default=False)


@contextmanager
def use_settings(settings: Settings) -> Iterator[Settings]:
    """Flows called inside run with ``settings`` instead of the environment's."""
    token = _CALLER_SETTINGS.set(settings)
    try:
        yield settings
    finally:
        _CALLER_SETTINGS.reset(token)


@contextmanager
def signals_cancel() -> Iterator[None]:
    """Runs in the block belong to an operator's command (``jobsview run``): SIGTERM to this
    process, like Ctrl-C, is the operator asking to cancel. Elsewhere (a worker's process) a
    SIGTERM is a cancel only when Prefect shows the flow run Cancelling."""
    token = _SIGNALS_CANCEL.set(True)
    try:
        yield
    finally:
        _SIGNALS_CANCEL.reset(token)


def sigterm_cancels() -> bool:
    return _SIGNALS_CANCEL.get()


def settings() -> Settings:
    """This run's settings (see the module's doc), the source token read from its Prefect
    Secret block if one is named."""
    return with_secrets(_CALLER_SETTINGS.get() or load_settings())


@functools.cache
def with_secrets(settings: Settings) -> Settings:
    name = settings.source_token_block
    if settings.source_token is not None or not name:
        return settings
    from prefect.blocks.system import Secret

    try:
        block: Secret[str] = Secret.load(name, _sync=True)  # type: ignore[call-arg,assignment]
        value = block.get()
    except Exception as exc:
        raise ConfigError(
            f"cannot read the Prefect Secret block {name!r} named by "
            f"JOBSVIEW_SOURCE_TOKEN_BLOCK: {type(exc).__name__}; create it with "
            f"`prefect block create secret` or set JOBSVIEW_SOURCE_TOKEN"
        ) from None
    return settings.model_copy(update={"source_token": SecretStr(str(value))})


def ledger(settings: Settings) -> Ledger:
    return get_ledger(settings.database_url)


def destination(settings: Settings) -> Destination:
    return get_destination(settings.destination)


@functools.cache
def source(settings: Settings) -> RestSource:
    """One shared client per process and settings: building one costs ~35 ms (TLS setup).

    With ``JOBSVIEW_SOURCE_RATE_LIMIT`` set, its requests go through the tenant's adaptive
    rate limit shared with every other process (``flows.pressure``); at 0 it makes no
    Prefect call per request, and only its own throttle reacts to a 429.
    """
    if not settings.source_rate_limit:
        return RestSource.from_settings(settings)
    pressure = SharedPressure(settings.source_rate_limit)
    return RestSource.from_settings(
        settings, before_request=pressure.before_request, on_throttled=pressure.on_throttled
    )


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


_GUARDED = "_jobsview_guarded"


def guard_console() -> None:
    """Make a broken output stream harmless to this process's log lines.

    A flow run started by a worker writes its logs to a pipe the worker reads. If the worker
    dies, the next line to that pipe fails, and rich (Prefect's console handler) answers a
    broken pipe with ``SystemExit``, which would end the run in the middle of its chunks. The
    console goes quiet instead, its stream pointed at /dev/null, and the run goes on.
    """
    for handler in {*logging.getLogger().handlers, *logging.getLogger("prefect").handlers}:
        console = getattr(handler, "console", None)
        if isinstance(console, Console) and not getattr(console, _GUARDED, False):
            console.on_broken_pipe = functools.partial(_go_quiet, console)  # type: ignore[method-assign]
            setattr(console, _GUARDED, True)


def _go_quiet(console: Console) -> None:
    console.quiet = True
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, console.file.fileno())
        os.close(devnull)


def logger() -> logging.Logger | logging.LoggerAdapter[Any]:
    """The run's logger (its lines reach the Prefect UI), or a plain one outside a run."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("jobsview")
