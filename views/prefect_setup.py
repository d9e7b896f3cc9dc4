"""Before a command runs a flow in this process: the Prefect API it will talk to.

* PREFECT_API_URL set: ``check_api`` makes sure that server answers, so an unreachable one is
  one line naming PREFECT_API_URL rather than a traceback from inside Prefect's flow engine.
* unset: Prefect starts a temporary server on first use; ``tie_temporary_server`` makes it one
  that dies with this process (``views.tethered_server``). A command that runs a flow starts
  one early instead (``launch_temporary_server``), and ``temporary_api`` runs a block on it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ConfigError
from core.redact import redact_url

if TYPE_CHECKING:
    from views.temporary_server import TemporaryServer


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def check_api(url: str) -> None:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        problem = client.api_healthcheck()
    if problem is not None:
        raise ConfigError(
            f"cannot reach the Prefect API at {redact_url(url)} (PREFECT_API_URL): "
            f"{first_line(problem)}; start that server, or unset PREFECT_API_URL to run on "
            "a temporary one"
        )


def configured_api() -> str | None:
    """PREFECT_API_URL (from the environment or the Prefect profile), or None."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    return str(url) if url else None


def tie_temporary_server(output: Path | None = None) -> None:
    """Make the temporary server Prefect will start for this process die with it.

    ``output``: where the server writes (default: this process's terminal).
    """
    from prefect.settings import get_current_settings

    if get_current_settings().server.ephemeral.enabled:
        from views import tethered_server

        tethered_server.install(output)


def prepare_prefect(output: Path | None = None) -> None:
    """``check_api`` when PREFECT_API_URL is set, else ``tie_temporary_server``."""
    api = configured_api()
    if api:
        check_api(api)
    else:
        tie_temporary_server(output)


@contextmanager
def temporary_api(server: TemporaryServer | None) -> Iterator[None]:
    """Run the block on ``server``, a temporary Prefect server that dies with this process.

    It is named in this context's settings and in PREFECT_API_URL, so that processes started
    in the block (Dask workers) use it too rather than each starting a server of its own.
    Without ephemeral mode (``server`` is None), Prefect's own error applies.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if server is None:
        yield
        return
    from views import tethered_server

    tethered_server.adopt(server)  # while it boots
    url = server.ready()
    saved = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = url
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield
    finally:
        if saved is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = saved


def launch_temporary_server(output: Path) -> TemporaryServer | None:
    """Start a temporary server now, unless ephemeral mode is off; ``temporary_api`` uses it."""
    from prefect.settings import get_current_settings

    if not get_current_settings().server.ephemeral.enabled:
        return None
    from views.temporary_server import launch

    return launch(output)


def describe_prefect_failure(exc: BaseException) -> str:
    """One line for an error raised by Prefect itself while starting or running a flow."""
    text = str(exc)
    if "ephemeral Prefect API server" in text:
        return (
            "the temporary Prefect server did not start (its output is in the full log); "
            "run one with `prefect server start` and set PREFECT_API_URL to it"
        )
    if "Failed to reach API" in text:
        return f"lost the Prefect API (PREFECT_API_URL): {first_line(exc)}"
    return f"the flow run stopped: {first_line(exc)}"
