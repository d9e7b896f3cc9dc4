"""What a finished job really stored, and whether a full sync matches the source at its end."""

from __future__ import annotations

from collections.abc import Sequence

from core.validation import SyncType
from ledger.models import Drift, Job
from tasks.seams import Destination, Source


def stored_records(destination: Destination, job: Job, chain: Sequence[Job] = ()) -> int:
    """Distinct records this job added to what its resume chain had stored.

    A record read twice (a drift margin, a repeat, ids ``1`` and ``"1"``) counts once, and a
    resume does not count again what the job it resumes stored.
    """
    ids = [job.id, *(j.id for j in chain)]
    before = sum(j.records_synced for j in chain)
    return max(destination.count(job.tenant, job_ids=ids) - before, 0)


def drift(
    source: Source, destination: Destination, job: Job, chain: Sequence[Job]
) -> dict[str, Drift]:
    """Per resource, where the records a completed full sync stored (across its resume chain)
    differ from the source's total now. Empty for partial syncs, which read only changes.

    A difference is not an error: records come and go during a run. It is shown, not hidden.
    Raises ``SourceError`` if the source cannot be counted.
    """
    if job.sync_type != SyncType.FULL:
        return {}
    ids = [job.id, *(j.id for j in chain)]
    found: dict[str, Drift] = {}
    for resource in job.resources:
        stored = destination.count(job.tenant, resource, job_ids=ids)
        at_source = source.count(job.tenant, resource)
        if stored != at_source:
            found[resource] = Drift(stored, at_source)
    return found
