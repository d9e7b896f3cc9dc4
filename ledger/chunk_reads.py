"""A job's chunks in summary: a status strip and the span of their timeline.

Each takes a query or two over the job's chunks, so a page about a job with 10,000 chunks
never loads them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select

from chunking import ceil_div
from core.db import retry_db
from ledger.models import ChunkStatus
from ledger.schema import chunks
from ledger.tenants import TenantReader

# Worst first: a strip cell shows the worst status among its chunks.
SEVERITY = (
    ChunkStatus.FAILED,
    ChunkStatus.RUNNING,
    ChunkStatus.CANCELLED,
    ChunkStatus.PENDING,
    ChunkStatus.COMPLETED,
)


@dataclass(frozen=True)
class StripCell:
    """Chunks ``first``..``last`` (indexes), shown as the worst status among them."""

    status: ChunkStatus
    first: int
    last: int


@dataclass(frozen=True)
class ChunkSpan:
    """When a job's chunks ran: the first start, the last finish, and whether any chunk that
    started has not finished."""

    first_start: datetime | None
    last_finish: datetime | None
    unfinished: bool


class ChunkReader(TenantReader):
    @retry_db
    def chunk_strip(self, job_id: str, cells: int) -> list[StripCell]:
        """At most ``cells`` cells over the job's chunks in index order, each the same number of
        consecutive chunks (the last one fewer)."""
        mine = chunks.c.job_id == job_id
        with self.reader.connect() as conn:
            total, first, last = conn.execute(
                select(func.count(), func.min(chunks.c.index), func.max(chunks.c.index)).where(mine)
            ).one()
            if not total:
                return []
            direct = last - first + 1 == total  # no gaps in the indexes: all jobs but resumes
            source: Any = chunks
            position: Any = chunks.c.index - first
            if not direct:  # number a resume's chunks in order (a window: slower)
                position = func.row_number().over(order_by=chunks.c.index) - 1
                source = select(chunks.c.index, chunks.c.status, position.label("position"))
                source = source.where(mine).subquery()
                position = source.c.position
            rank = case(
                {s.value: n for n, s in enumerate(SEVERITY)},
                value=source.c.status,
                else_=len(SEVERITY),
            )
            cell = (position // ceil_div(total, cells)).label("cell")
            query = select(cell, func.min(source.c.index), func.max(source.c.index), func.min(rank))
            query = query.where(mine) if direct else query
            rows = conn.execute(query.group_by(cell).order_by(cell)).all()
        return [StripCell(SEVERITY[min(r, 4)], lo, hi) for _, lo, hi, r in rows]

    @retry_db
    def chunk_span(self, job_id: str) -> ChunkSpan:
        started_unfinished = and_(chunks.c.started_at.is_not(None), chunks.c.finished_at.is_(None))
        with self.reader.connect() as conn:
            first, last, unfinished = conn.execute(
                select(
                    func.min(chunks.c.started_at),
                    func.max(chunks.c.finished_at),
                    func.count().filter(started_unfinished),
                ).where(chunks.c.job_id == job_id)
            ).one()
        return ChunkSpan(first, last, bool(unfinished))
