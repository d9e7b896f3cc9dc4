"""A job's chunks in summary: a status strip and the span of their timeline.

Each is one query over the job's chunks, so a page about a job with 10,000 chunks never loads
them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, select

from core.db import retry_db
from ledger.models import ChunkStatus
from ledger.schema import chunks
from ledger.tenants import TenantStore

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


class ChunkReader(TenantStore):
    @retry_db
    def chunk_strip(self, job_id: str, cells: int) -> list[StripCell]:
        """At most ``cells`` cells over the job's chunks in index order, each the same number of
        consecutive chunks (the last one fewer)."""
        with self.engine.connect() as conn:
            total = conn.execute(
                select(func.count()).select_from(chunks).where(chunks.c.job_id == job_id)
            ).scalar_one()
            if not total:
                return []
            per_cell = -(-total // cells)
            ranked = (
                select(
                    chunks.c.index,
                    case(
                        {s.value: rank for rank, s in enumerate(SEVERITY)},
                        value=chunks.c.status,
                        else_=len(SEVERITY),
                    ).label("rank"),
                    (func.row_number().over(order_by=chunks.c.index) - 1).label("position"),
                )
                .where(chunks.c.job_id == job_id)
                .subquery()
            )
            cell = (ranked.c.position // per_cell).label("cell")
            rows = conn.execute(
                select(
                    cell,
                    func.min(ranked.c.index),
                    func.max(ranked.c.index),
                    func.min(ranked.c.rank),
                )
                .group_by(cell)
                .order_by(cell)
            ).all()
        return [StripCell(SEVERITY[min(rank, 4)], first, last) for _, first, last, rank in rows]

    @retry_db
    def chunk_span(self, job_id: str) -> ChunkSpan:
        started_unfinished = and_(chunks.c.started_at.is_not(None), chunks.c.finished_at.is_(None))
        with self.engine.connect() as conn:
            first, last, unfinished = conn.execute(
                select(
                    func.min(chunks.c.started_at),
                    func.max(chunks.c.finished_at),
                    func.count().filter(started_unfinished),
                ).where(chunks.c.job_id == job_id)
            ).one()
        return ChunkSpan(first, last, bool(unfinished))
