"""Prefect's temporary server, started so that it dies with this process.

Without PREFECT_API_URL, Prefect starts a temporary API server (a uvicorn subprocess) the
first time a client needs one, and stops it at exit; a process killed by SIGKILL never gets
to stop it. ``install`` registers, as that temporary server, a ``TetheredServer``: the same
server started the same way, lazily, by Prefect itself, but under ``views.tether``, so it ends
when this process ends, however it ends. It is registered where Prefect's own test harness
registers its server (``SubprocessASGIServer._instances[None]``). Its output goes to the
run's log file rather than the terminal, and it gets at least ``MIN_STARTUP_SECONDS`` to
start (creating its database on a busy machine takes longer than Prefect's default 20 s).

``start`` starts it at once, for a command that is about to run a flow and wants its URL.

Importing this module imports Prefect's server: only when a temporary server is needed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import prefect
from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, get_current_settings

MIN_STARTUP_SECONDS = 60


class TetheredServer(SubprocessASGIServer):
    """Prefect's ``SubprocessASGIServer``, its subprocess tied to this one."""

    output: Path | None = None

    def start(self, timeout: int | None = None) -> None:
        configured = PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()
        super().start(timeout=timeout or max(configured, MIN_STARTUP_SECONDS))

    def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
        # The command and environment of SubprocessASGIServer._run_uvicorn_command.
        server_env = {
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        }
        main_thread = threading.current_thread() is threading.main_thread()
        command = [
            sys.executable,
            "-m",
            "views.tether",
            str(os.getpid()),
            "pdeathsig" if main_thread else "watch",
            "uvicorn",
            "--app-dir",
            str(prefect.__module_path__.parent),
            "--factory",
            "prefect.server.api.server:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "error",
            "--lifespan",
            "on",
        ]
        env = {
            **os.environ,
            **server_env,
            **get_current_settings().to_environment_variables(exclude_unset=True),
        }
        # Its own session: a Ctrl-C on the terminal reaches only this process, which then
        # stops its chunks and reports to the server before the server stops.
        options: dict[str, Any] = {
            "env": env,
            "stdin": subprocess.DEVNULL,
            "start_new_session": True,
        }
        if self.output is None:
            return subprocess.Popen(command, **options)
        with self.output.open("ab") as output:
            return subprocess.Popen(command, stdout=output, stderr=output, **options)


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


def start(output: Path | None = None) -> str:
    """Start the temporary server now (if not yet running) and return its API URL."""
    install(output)
    server = SubprocessASGIServer()  # the default instance: the one installed above
    server.start()
    return server.api_url
