"""What a job stored, counted exactly, and whether a completed full sync matches the source.

A chunk reads a drift margin before its window, so neighbours read some records twice; and a
record moving across a boundary during the run is read by both chunks. Each completed chunk
keeps its ``edges``: how many distinct records it stored, and the ids at both ends of what it
read. Counting a chain's chunks in index order, a record at the head of one chunk that a chunk
before it stored already is counted once. Counts come from the chunks, never from who wrote a
row last, so another job writing the same rows (a partial beside a full) changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from core.validation import SyncType
from ledger.models import Drift, Job
from ledger.reads import ChunkEdges
from tasks.seams import Source


def chunk_edges(ids: Sequence[str], written: int, edge: int) -> dict[str, Any]:
    """What a completed chunk keeps for counting: its distinct records (``written``), and the
    ids of the first and last ``edge`` records it read (all of them, when that covers them)."""
    if len(ids) <= 2 * edge:
        return {"written": written, "ids": list(dict.fromkeys(ids))}
    return {"written": written, "head": list(ids[:edge]), "tail": list(ids[-edge:])}


def distinct_records(chunks: Iterable[ChunkEdges]) -> int:
    """Distinct records that completed chunks of one resource stored, given in index order:
    each one's distinct records, less those at its head that a chunk before it stored.

    A chunk without edges (completed before they were kept) counts as it counted itself.
    """
    total = 0
    recent: dict[str, None] = {}  # ids at the tails of the chunks before, oldest first
    keep = 0
    for records, edges in chunks:
        if edges is None:
            total += records
            continue
        every = edges.get("ids", ())
        head, tail = edges.get("head", every), edges.get("tail", every)
        total += edges["written"] - sum(1 for i in set(head) if i in recent)
        recent.update(dict.fromkeys(tail))
        keep = max(keep, 2 * len(tail))
        for old in list(recent)[: max(len(recent) - keep, 0)]:
            del recent[old]
    return total


def drift(source: Source, job: Job, stored: Mapping[str, int]) -> dict[str, Drift]:
    """Per resource, where the records a completed full sync stored (``stored``: across its
    resume chain) differ from the source's total now. Empty for partial syncs, which read only
    changes.

    A difference is not an error: records come and go during a run. It is shown, not hidden.
    Raises ``SourceError`` if the source cannot be counted.
    """
    if job.sync_type != SyncType.FULL:
        return {}
    found: dict[str, Drift] = {}
    for resource in job.resources:
        at_source = source.count(job.tenant, resource)
        if stored.get(resource, 0) != at_source:
            found[resource] = Drift(stored.get(resource, 0), at_source)
    return found
