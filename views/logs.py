"""Where a run's log goes: one line per record on the terminal, everything in a file.

While ``jobsview run``, ``resume`` or ``demo`` runs a flow here, Prefect's engine logs each
failed task with its traceback. On the terminal every record becomes one line (its first
line, without the traceback), and a task run's "Finished in state Failed" line is left out
when it only repeats the failure the task run just reported. The full records, tracebacks
included, go to a file under the Prefect home (``$PREFECT_HOME/jobsview/logs``), whose path
a run that did not complete prints once at the end. The newest ``KEEP`` files are kept.

``run_log`` sets this up in this process; ``child_logging`` in the processes the run starts
(Dask workers), through a copy of Prefect's logging configuration."""

from __future__ import annotations

import logging
import os
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

KEEP = 50
FILE_FORMAT = "%(asctime)s %(levelname)-7s %(processName)s/%(threadName)s %(name)s - %(message)s"


def log_dir() -> Path:
    """``$PREFECT_HOME/jobsview/logs``: beside Prefect's own state, one per user."""
    from prefect.settings import get_current_settings

    return Path(get_current_settings().home).expanduser() / "jobsview" / "logs"


def serve_log_file() -> Path:
    """Where ``jobsview serve``'s background jobs log: ``$PREFECT_HOME/jobsview/``, beside
    the run logs (not among them, which are pruned), or a temporary directory."""
    directory = log_dir().parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        directory = Path(tempfile.mkdtemp(prefix="jobsview-logs-"))
    return directory / "jobsview-jobs.log"


def _usable_dir() -> Path:
    """``log_dir()``, or a new temporary directory where that cannot be written."""
    directory = log_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _prune(directory)
        return directory
    except OSError:
        return Path(tempfile.mkdtemp(prefix="jobsview-logs-"))


class OneLine(logging.Formatter):
    """Format a record as ``inner`` would, but as one line and without its traceback."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        bare = logging.makeLogRecord(record.__dict__)  # the other handlers keep the traceback
        bare.exc_info = bare.exc_text = bare.stack_info = None
        text = self.inner.format(bare)
        first, _, rest = text.partition("\n")
        return f"{first} …" if rest.strip() else first


def one_line_formatter(format: str | None = None, datefmt: str | None = None) -> OneLine:
    """``logging.Formatter(format, datefmt)``, one line: a factory for ``dictConfig``."""
    return OneLine(logging.Formatter(format, datefmt))


def one_line_prefect_formatter(**options: Any) -> OneLine:
    """Prefect's console formatter, one line: a factory for ``dictConfig``."""
    from prefect.logging.formatters import PrefectFormatter

    return OneLine(PrefectFormatter(**options))


class NoRepeatedFailure(logging.Filter):
    """Drop a task run's "Finished in state Failed(...)" when that task run already said, in
    an error line of its own, why it failed (after its retries)."""

    def __init__(self) -> None:
        super().__init__()
        self.reported: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != "prefect.task_runs" or record.levelno < logging.ERROR:
            return True
        task_run = str(getattr(record, "task_run_id", ""))
        message = str(record.msg)
        if message.startswith("Task run failed with"):
            self.reported.add(task_run)
        return not (message.startswith("Finished in state") and task_run in self.reported)


@dataclass
class RunLog:
    """The file a run logs to; ``path`` exists once something was written."""

    path: Path
    handler: logging.FileHandler = field(init=False)

    def __post_init__(self) -> None:
        self.handler = logging.FileHandler(self.path, encoding="utf-8", delay=True)
        self.handler.setLevel(logging.DEBUG)
        self.handler.setFormatter(logging.Formatter(FILE_FORMAT))

    def record(self, exc: BaseException, message: str = "the run stopped") -> None:
        """Write ``exc`` with its traceback to the file only (the terminal gets one line)."""
        rec = logging.LogRecord("jobsview", logging.ERROR, __file__, 0, message, (), None)
        rec.exc_text = "".join(traceback.format_exception(exc)).rstrip()
        self.handler.handle(rec)
        self.handler.flush()


def _loggers() -> Iterator[logging.Logger]:
    """The root logger and every logger that does not pass its records on to it."""
    yield logging.getLogger()
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and not logger.propagate and logger.handlers:
            yield logger


def _is_console(handler: logging.Handler) -> bool:
    return isinstance(handler, logging.StreamHandler) and not isinstance(
        handler, logging.FileHandler
    )


def _prune(directory: Path) -> None:
    """Keep the newest ``KEEP - 1`` run logs, to make room for one more."""
    logs = sorted(directory.glob("run-*.log"), reverse=True)  # names start with a timestamp
    for path in logs[KEEP - 1 :]:
        path.unlink(missing_ok=True)


def new_log_path() -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return _usable_dir() / f"run-{stamp}-{os.getpid()}.log"


def child_config(log: RunLog) -> dict[str, Any]:
    """Prefect's default logging configuration, with this run's terminal and file rules."""
    import yaml
    from prefect.logging.configuration import DEFAULT_LOGGING_SETTINGS_PATH

    config: dict[str, Any] = yaml.safe_load(DEFAULT_LOGGING_SETTINGS_PATH.read_text())
    config["formatters"]["standard"]["()"] = f"{__name__}.one_line_prefect_formatter"
    config["formatters"]["debug"]["()"] = f"{__name__}.one_line_formatter"
    config["formatters"]["jobsview_file"] = {"format": FILE_FORMAT}
    config.setdefault("filters", {})["jobsview_once"] = {"()": f"{__name__}.NoRepeatedFailure"}
    config["handlers"]["console"]["filters"] = ["jobsview_once"]
    config["handlers"]["jobsview_file"] = {
        "class": "logging.FileHandler",
        "filename": str(log.path),
        "encoding": "utf-8",
        "delay": True,
        "formatter": "jobsview_file",
    }
    for logger in [config["root"], *config["loggers"].values()]:
        if logger is config["root"] or logger.get("propagate") is False:
            logger["handlers"] = [*logger.get("handlers", []), "jobsview_file"]
    return config


@contextmanager
def child_logging(log: RunLog) -> Iterator[None]:
    """Processes started in the block (Dask workers) log as this one does during a run.

    They read PREFECT_LOGGING_SETTINGS_PATH when they import Prefect: it names a copy of
    Prefect's default configuration with the rules above. One set by the user is kept.
    """
    import yaml

    if "PREFECT_LOGGING_SETTINGS_PATH" in os.environ:
        yield
        return
    path = log.path.with_suffix(".logging.yml")
    path.write_text(yaml.safe_dump(child_config(log)))
    os.environ["PREFECT_LOGGING_SETTINGS_PATH"] = str(path)
    try:
        yield
    finally:
        os.environ.pop("PREFECT_LOGGING_SETTINGS_PATH", None)
        path.unlink(missing_ok=True)


@contextmanager
def run_log(path: Path | None = None) -> Iterator[RunLog]:
    """Send every record to a new run log file (``path``, else a new one), and only one line
    of each to the terminal."""
    log = RunLog(path or new_log_path())
    formatters: dict[logging.Handler, logging.Formatter | None] = {}
    attached: list[logging.Logger] = []
    one_line_filter = NoRepeatedFailure()
    for logger in _loggers():
        logger.addHandler(log.handler)
        attached.append(logger)
        for handler in logger.handlers:
            if _is_console(handler) and handler not in formatters:
                formatters[handler] = handler.formatter
                handler.setFormatter(OneLine(handler.formatter))
                handler.addFilter(one_line_filter)
    try:
        yield log
    finally:
        for logger in attached:
            logger.removeHandler(log.handler)
        for handler, formatter in formatters.items():
            handler.setFormatter(formatter)
            handler.removeFilter(one_line_filter)
        log.handler.close()
