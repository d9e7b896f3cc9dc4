"""Start jobs in background processes, so the web server never waits on a sync.

Jobs started from the web share one long-lived Prefect server: the one in
``PREFECT_API_URL``, or one this launcher starts on first use. (Temporary servers
started by concurrent processes race on their migrations.)
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prefect.server.api.server import SubprocessASGIServer

log = logging.getLogger(__name__)


class Launcher:
    def __init__(self, log_file: Path | None = None) -> None:
        self.log_file = log_file
        self._server: SubprocessASGIServer | None = None
        self._lock = threading.Lock()
        self._children: list[subprocess.Popen[bytes]] = []

    def prefect_api_url(self) -> str:
        configured = os.environ.get("PREFECT_API_URL")
        if configured:
            return configured
        with self._lock:
            if self._server is None:
                from prefect.server.api.server import SubprocessASGIServer

                server = SubprocessASGIServer()
                server.start(timeout=120)
                self._server = server
            return str(self._server.api_url)

    def ui_url(self) -> str | None:
        """The Prefect UI's address, when this process knows one without starting anything."""
        if self._server is not None:
            return str(self._server.address)
        from prefect.settings import get_current_settings

        url = get_current_settings().ui_url
        return str(url) if url and os.environ.get("PREFECT_API_URL") else None

    def launch(self, args: list[str]) -> None:
        """Run ``jobsview ARGS`` detached, without waiting; the ledger shows its progress.

        The first launch may start the Prefect server (seconds), so it happens off the
        request. A launch that fails leaves its claimed job queued until reconcile.
        """
        threading.Thread(target=self._launch, args=(args,), daemon=True).start()

    def _launch(self, args: list[str]) -> None:
        try:
            env = dict(os.environ, PREFECT_API_URL=self.prefect_api_url())
        except Exception:
            log.exception("could not start a Prefect server for jobsview %s", " ".join(args))
            return
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        child = subprocess.Popen(
            [sys.executable, "-m", "views", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        with self._lock:
            self._children = [c for c in self._children if c.poll() is None] + [child]
        log.info("launched jobsview %s (pid %d)", " ".join(args), child.pid)

    def close(self) -> None:
        # Jobs outlive the web server (reconcile catches any that die); only the
        # Prefect server this launcher started stops with it.
        with self._lock:
            if self._server is not None:
                self._server.stop()
                self._server = None
