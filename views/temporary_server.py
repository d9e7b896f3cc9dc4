"""Prefect's temporary API server, in a process of its own that dies with this one.

``launch`` starts it without waiting and without importing Prefect's server code here, so a
command can go on with its own start-up (claiming the job, importing the flow) while the
server boots on the other core; ``ready`` then waits for it. The server is the one Prefect
starts itself (the same uvicorn command and environment as ``SubprocessASGIServer``), run
under ``views.tether``.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

MIN_STARTUP_SECONDS = 60  # creating its database on a busy machine takes a while
PORT_TAKEN = 3  # uvicorn's exit code when the port was taken in the meantime


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command(port: int) -> list[str]:
    """``uvicorn`` serving Prefect's API on ``port``, tied to this process."""
    spec = importlib.util.find_spec("prefect")
    assert spec is not None and spec.origin is not None, "prefect is not installed"
    main_thread = threading.current_thread() is threading.main_thread()
    return [
        sys.executable,
        "-m",
        "views.tether",
        str(os.getpid()),
        "pdeathsig" if main_thread else "watch",
        "uvicorn",
        "--app-dir",
        str(Path(spec.origin).parent.parent),
        "--factory",
        "prefect.server.api.server:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "error",
        "--lifespan",
        "on",
    ]


def environment() -> dict[str, str]:
    """This process's environment and Prefect settings, as a temporary server wants them."""
    from prefect.settings import get_current_settings

    return {
        **os.environ,
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT__SERVER_FINAL": "1",
        # Nobody asked to report usage from a server started behind their back.
        "PREFECT_SERVER_ANALYTICS_ENABLED": "0",
        **get_current_settings().to_environment_variables(exclude_unset=True),
    }


def spawn(port: int, output: Path | None) -> subprocess.Popen[bytes]:
    # Its own session: a Ctrl-C on the terminal reaches only this process, which then
    # stops its chunks and reports to the server before the server stops.
    options: dict[str, Any] = {
        "env": environment(),
        "stdin": subprocess.DEVNULL,
        "start_new_session": True,
    }
    if output is None:
        return subprocess.Popen(command(port), **options)
    with output.open("ab") as out:
        return subprocess.Popen(command(port), stdout=out, stderr=out, **options)


@dataclass
class TemporaryServer:
    output: Path | None
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] = field(init=False)

    def __post_init__(self) -> None:
        self.process = spawn(self.port, self.output)
        atexit.register(self.stop)  # after the events still queued at exit are sent

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def ready(self, timeout: float = MIN_STARTUP_SECONDS) -> str:
        """Wait until it answers; its API URL. Raises ``RuntimeError`` if it does not."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=5) as client:
            while time.monotonic() < deadline:
                code = self.process.poll()
                if code == PORT_TAKEN:
                    self.port = _free_port()
                    self.process = spawn(self.port, self.output)
                elif code is not None:
                    break
                try:
                    if client.get(f"{self.api_url}/health").status_code == 200:
                        return self.api_url
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        exited = self.process.poll()
        # Worded as Prefect words it, which ``describe_prefect_failure`` recognises.
        raise RuntimeError(
            "Timed out while attempting to connect to ephemeral Prefect API server."
            + (f" Ephemeral server process exited with code {exited}." if exited else "")
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def launch(output: Path | None = None) -> TemporaryServer:
    """Start a temporary server now; ``ready()`` waits for it."""
    return TemporaryServer(output)
