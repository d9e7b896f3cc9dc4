"""Prefect's temporary server, started so that it dies with this process.

Without PREFECT_API_URL, Prefect starts a temporary API server (a uvicorn subprocess) the
first time a client needs one, and stops it at exit; a process killed by SIGKILL never gets
to stop it. ``install`` registers, as that temporary server, a ``TetheredServer``: the same
server started the same way, lazily, by Prefect itself, but under ``views.tether``, so it ends
when this process ends, however it ends. It is registered where Prefect's own test harness
registers its server (``SubprocessASGIServer._instances[None]``). Its output goes to the
run's log file rather than the terminal, and it gets at least ``MIN_STARTUP_SECONDS`` to
start (creating its database on a busy machine takes longer than Prefect's default 20 s).

A command about to run a flow starts its server itself, earlier (``views.temporary_server``).

Importing this module imports Prefect's server: only when a temporary server is needed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

from views import temporary_server
from views.temporary_server import MIN_STARTUP_SECONDS, TemporaryServer


class TetheredServer(SubprocessASGIServer):
    """Prefect's ``SubprocessASGIServer``, its subprocess tied to this one."""

    output: Path | None = None

    def start(self, timeout: int | None = None) -> None:
        configured = PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()
        super().start(timeout=timeout or max(configured, MIN_STARTUP_SECONDS))

    def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
        assert self.port is not None
        return temporary_server.spawn(self.port, self.output)


def install(output: Path | None = None) -> None:
    """Make the temporary server Prefect starts in this process a ``TetheredServer``.

    Does nothing when Prefect already started its own (it is then too late to tie it).
    """
    instances = SubprocessASGIServer._instances
    current = instances.get(None)
    if current is not None and not isinstance(current, TetheredServer):
        if current.running:
            return
        instances.pop(None)
    server = TetheredServer()  # registers itself as the default (port None) instance
    server.output = output


def adopt(server: TemporaryServer) -> None:
    """Make ``server``, started early and running, the temporary server Prefect uses here,
    also for what it sends after a flow's block has ended (the events left at exit)."""
    install(server.output)
    default = SubprocessASGIServer()  # the default instance: the one installed above
    default.port, default.server_process, default.running = server.port, server.process, True
