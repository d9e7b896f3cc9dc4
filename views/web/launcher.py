"""Run claimed jobs where they belong, so the web server never waits on a sync.

A job goes to its tenant's deployment when one is served or deployed (``deployments/``), so
it runs where the schedules run. Otherwise it runs in a background ``jobsview`` process.
Those processes share one long-lived Prefect server: the one in ``PREFECT_API_URL``, or one
this launcher starts on first use. (Temporary servers started by concurrent processes race
on their migrations.)
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from core.settings import ENV_PREFIX, Settings
from ledger.models import Job
from ledger.store import Ledger

if TYPE_CHECKING:
    from prefect.server.api.server import SubprocessASGIServer

log = logging.getLogger(__name__)

UI_PROBE_EVERY_SECONDS = 60.0


class Launcher:
    """Starts the web's jobs; a background ``jobsview`` process runs with ``settings``."""

    def __init__(self, settings: Settings, log_file: Path | None = None) -> None:
        self.settings = settings
        self.log_file = log_file
        self._server: SubprocessASGIServer | None = None
        self._lock = threading.Lock()
        self._children: list[subprocess.Popen[bytes]] = []
        self._ui_seen: dict[str, tuple[bool, float]] = {}

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
        """The Prefect UI's address, only where a UI is actually served (the temporary server
        this launcher may start serves none): a link elsewhere would be a 404."""
        if self._server is not None:
            candidate = str(self._server.address)
        elif os.environ.get("PREFECT_API_URL"):
            from prefect.settings import get_current_settings

            candidate = str(get_current_settings().ui_url or "")
        else:
            return None
        return candidate if candidate and self._ui_served(candidate.rstrip("/")) else None

    def _ui_served(self, url: str) -> bool:
        """Whether ``url`` serves the Prefect UI's page; asked at most once a minute."""
        now = time.monotonic()
        known = self._ui_seen.get(url)
        if known is not None and known[1] > now:
            return known[0]
        try:
            answer = httpx.get(f"{url}/", timeout=2.0)
            served = answer.status_code == 200 and "text/html" in answer.headers.get(
                "content-type", ""
            )
        except httpx.HTTPError:
            served = False
        self._ui_seen[url] = (served, now + UI_PROBE_EVERY_SECONDS)
        return served

    def start(self, job: Job, ledger: Ledger) -> None:
        """Run the claimed ``job`` off the request: a hand-off or the first launch (which may
        start a Prefect server) takes seconds. A start that fails leaves the job queued until
        reconcile settles it."""
        threading.Thread(target=self.run, args=(job, ledger), daemon=True).start()

    def run(self, job: Job, ledger: Ledger) -> None:
        flow_run_id = self.hand_off(job)
        if flow_run_id is not None:
            # Recorded now, so reconcile sees a run that waits for its worker, not a dead one.
            ledger.update_job(job.id, flow_run_id=flow_run_id)
            log.info("job %s handed to its deployment: flow run %s", job.id, flow_run_id)
            return
        if job.parent_id:
            self.launch(["resume", job.parent_id, "--job-id", job.id, "--json"])
        else:
            self.launch(
                [
                    "run",
                    "--tenant",
                    job.tenant,
                    "--type",
                    job.sync_type,
                    "--job-id",
                    job.id,
                    "--json",
                ]
            )

    def hand_off(self, job: Job) -> str | None:
        """The flow run started on the job's deployment, or None when none is ready."""
        if not os.environ.get("PREFECT_API_URL"):
            return None  # a temporary Prefect server has no deployments
        from deployments.handoff import hand_off

        try:
            return hand_off(job)
        except Exception as exc:  # the background process is the fallback
            log.warning("could not hand job %s to a deployment: %s", job.id, exc)
            return None

    def launch(self, args: list[str]) -> None:
        """Run ``jobsview ARGS`` detached; the ledger shows its progress."""
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
            env |= self.settings.environment()
            env["PREFECT_API_URL"] = self.prefect_api_url()
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
