"""The Jobs View inside the Prefect UI: a job's progress, chunk table and tree as artifacts.

Every job's flow run publishes:

- ``jobsview-{tenant}-{type}-progress``: the share of chunks completed, created as the chunks
  start, updated as they finish (at most once a second, less often while the API is slow),
  and finally from the settled ledger; a job that runs no chunk has none;
- ``jobsview-{tenant}-{type}-chunks``: a table of the chunks, at the end;
- ``jobsview-{tenant}-{type}-summary``: markdown with the summary and the seed's tree, at the end.

One key per tenant and sync type, so the Prefect UI's history of a key is the job history.
Artifacts are a convenience: a failure to publish logs a warning and never fails the job.
"""

from __future__ import annotations

import inspect
import re
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any
from uuid import UUID

from prefect.artifacts import (
    Artifact,
    MarkdownArtifact,
    TableArtifact,
    create_progress_artifact,
    update_progress_artifact,
)

from flows.runtime import logger
from ledger.models import Chunk, ChunkStatus, Job
from ledger.render import (
    drift_text,
    job_duration,
    progress_text,
    render_tree,
    window_text,
)

MAX_TABLE_ROWS = 1_000
MAX_TREE_CHUNKS = 500
MAX_ERROR_CHARS = 500
PROGRESS_EVERY_SECONDS = 1.0

_NOT_KEY = re.compile(r"[^a-z0-9-]+")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def artifact_key(tenant: str, sync_type: str, kind: str) -> str:
    """``jobsview-{tenant}-{sync_type}-{kind}``, in lowercase letters, digits and dashes."""
    return _NOT_KEY.sub("-", f"jobsview-{tenant}-{sync_type}-{kind}".lower())


def _published(what: str, job_id: str, publish: Callable[[], object]) -> UUID | None:
    """Run one Prefect artifact call; its artifact id, or ``None`` (with a warning) if it failed."""
    try:
        result = publish()
    except Exception as exc:
        logger().warning(
            "job %s: could not publish its %s artifact: %s: %s",
            job_id,
            what,
            type(exc).__name__,
            exc,
        )
        return None
    if inspect.iscoroutine(result):  # only in an async run; our flows are sync
        result.close()
        logger().warning("job %s: %s artifact skipped in an async context", job_id, what)
        return None
    return result if isinstance(result, UUID) else None


# -- progress ---------------------------------------------------------------------------------


class ChunkProgress:
    """A job's progress artifact: the share of its chunks that completed.

    Created on entering; ``chunk_done`` updates it at most once every ``every`` seconds (less
    often while the API answers slowly), and ``finish`` publishes the settled ledger's
    outcome, so a cancelled job never reads as done. After a failed call it stops publishing
    for this run.
    """

    def __init__(
        self,
        job: Job,
        *,
        every: float = PROGRESS_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        chunks = job.chunks or ()
        self.job_id = job.id
        self.key = artifact_key(job.tenant, job.sync_type, "progress")
        self.counts: Counter[ChunkStatus] = Counter(c.status for c in chunks)
        self.published: tuple[float, str] | None = None
        self._every = every
        self._clock = clock
        self._artifact_id: UUID | None = None
        self._next_at = 0.0

    @property
    def percent(self) -> float:
        total = sum(self.counts.values())
        completed = self.counts[ChunkStatus.COMPLETED]
        return round(100.0 * completed / total, 1) if total else 100.0

    def description(self) -> str:
        return f"Job {self.job_id}: {progress_text(self.counts)}"

    def __enter__(self) -> ChunkProgress:
        started = self._clock()
        shown = (self.percent, self.description())
        self._artifact_id = _published(
            "progress",
            self.job_id,
            lambda: create_progress_artifact(progress=shown[0], key=self.key, description=shown[1]),
        )
        if self._artifact_id is not None:
            self.published = shown
        self._pause(started)
        return self

    def chunk_done(self, status: ChunkStatus) -> None:
        """Count one finished chunk; publish when the pause since the last call is over."""
        self.counts[ChunkStatus.PENDING] -= 1
        self.counts[status] += 1
        if self._clock() >= self._next_at:
            self._update()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Nothing: the final value comes from the settled ledger, in ``finish``."""

    def finish(self, job: Job) -> None:
        """Publish the job's settled outcome (if this run published progress at all)."""
        self.counts = Counter({s: n for s, n in job.counts.items() if n})
        self._update()

    def _update(self) -> None:
        artifact_id = self._artifact_id
        shown = (self.percent, self.description())
        if artifact_id is None or shown == self.published:
            return
        started = self._clock()
        updated = _published(
            "progress",
            self.job_id,
            lambda: update_progress_artifact(
                artifact_id=artifact_id, progress=shown[0], description=shown[1]
            ),
        )
        if updated is None:
            self._artifact_id = None  # the API is unwell: do not slow the job down further
        else:
            self.published = shown
        self._pause(started)

    def _pause(self, started: float) -> None:
        """Wait ``every`` seconds, or 20 times the call's duration: at most 5% of the loop."""
        now = self._clock()
        self._next_at = now + max(self._every, 20 * (now - started))


# -- chunk table ------------------------------------------------------------------------------


def _clip(text: str | None, limit: int = MAX_ERROR_CHARS) -> str:
    if not text:
        return ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def chunk_row(chunk: Chunk) -> dict[str, Any]:
    return {
        "number": chunk.index,
        "resource": chunk.resource,
        "window": window_text(chunk, with_resource=False),
        "status": chunk.status.value,
        "records": chunk.records,
        "attempts": chunk.attempts,
        "error": _clip(chunk.error),
    }


def table_chunks(chunks: Iterable[Chunk], limit: int = MAX_TABLE_ROWS) -> list[Chunk]:
    """Every chunk by number; beyond ``limit``, failed chunks first, then the rest by number."""
    ordered = sorted(chunks, key=lambda c: c.index)
    if len(ordered) <= limit:
        return ordered
    ordered.sort(key=lambda c: c.status is not ChunkStatus.FAILED)  # stable: keeps the numbers
    return ordered[:limit]


def table_description(job: Job, shown: int) -> str:
    text = f"Chunks of job {job.id} ({job.status.value}), {job.tenant} {job.sync_type}"
    total = len(job.chunks or ())
    if shown < total:
        return f"{text}: showing {shown:,} of {total:,} chunks, failed chunks first"
    return f"{text}: {total:,} chunks"


# -- summary ----------------------------------------------------------------------------------


def _md(text: str) -> str:
    """Plain text for a markdown line: special characters escaped, one line."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _fenced(text: str) -> str:
    """A code block that no run of backticks inside ``text`` can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def summary_markdown(job: Job, *, max_chunks: int = MAX_TREE_CHUNKS) -> str:
    """The job's summary, then the seed's tree (at most ``max_chunks`` chunk lines)."""
    sync = job.sync_type + (" (no watermark yet: ran as full)" if job.ran_as_full else "")
    facts = [
        ("Status", f"**{job.status.value}**"),
        ("Tenant", _md(job.tenant)),
        ("Sync type", _md(sync)),
        ("Sync Size", f"{_md(job.sync_size)} ({job.chunk_size:,} records per chunk)"),
        ("Chunks", progress_text(job)),
        ("Records", f"{job.records_synced:,}"),
        ("Duration", job_duration(job) or "-"),
    ]
    if job.error:
        facts.append(("Error", _md(job.error)))
    drift = drift_text(job)
    if drift:
        facts.append(("Drift", _md(drift.removeprefix("drift: "))))
    if job.parent_id:
        facts.append(("Resumes job", _md(job.parent_id)))
    if job.resumed_by:
        facts.append(("Resumed by", _md(", ".join(job.resumed_by))))
    facts.append(("Flow run", _md(job.flow_run_id or "-")))
    lines = [f"# Job {job.id}: {job.status.value}", ""]
    lines += [f"- **{name}:** {value}" for name, value in facts]
    lines += ["", "## Chunks", "", _fenced(render_tree(job, max_chunks=max_chunks)), ""]
    return "\n".join(lines)


# -- publishing -------------------------------------------------------------------------------


def _create(artifact: Artifact) -> UUID:
    # Outside a run (reconcile settling a dead run's job) Prefect warns that artifacts
    # belong to runs: this one does, to the job's flow run, named explicitly.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return artifact.create(_sync=True).id  # type: ignore[call-arg,union-attr]


def publish_job(job: Job) -> None:
    """The table of ``job``'s chunks and its summary, on the job's flow run, whoever settles
    it: for every outcome, and never raising."""
    run = UUID(job.flow_run_id) if job.flow_run_id else None
    chunks = table_chunks(job.chunks or ())
    table = TableArtifact(
        table=[chunk_row(c) for c in chunks],
        key=artifact_key(job.tenant, job.sync_type, "chunks"),
        description=table_description(job, len(chunks)),
        flow_run_id=run,
    )
    summary = MarkdownArtifact(
        markdown=summary_markdown(job),
        key=artifact_key(job.tenant, job.sync_type, "summary"),
        description=f"Job {job.id}: {job.status.value}",
        flow_run_id=run,
    )
    _published("chunk table", job.id, lambda: _create(table))
    _published("summary", job.id, lambda: _create(summary))
