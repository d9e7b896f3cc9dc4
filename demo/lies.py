"""How the demo source lies: rules for doctored pages, and page bodies streamed slowly or huge.

The switches themselves live on ``DemoFaults`` (see its docstring); this module holds the rule
types it is built from and the code that turns a page into bytes on the wire.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from pydantic import Field
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

Offset = Annotated[int, Field(ge=0)]
BLOB_MARK = "@@demo-huge-blob@@"  # stands in for the blob while the page is encoded
_X = b"x" * (1 << 20)  # one megabyte of blob, reused for every piece


def dumps(content: Any) -> str:
    return json.dumps(content, ensure_ascii=False, separators=(",", ":"))


class PageRule:
    """Matching for rules about the page a client asks for at ``offset`` (not a dataclass:
    subclasses declare ``resource``, ``offset``, ``times`` and ``tenant`` themselves)."""

    resource: str
    offset: int
    times: int | None
    tenant: str | None

    def __post_init__(self) -> None:
        self.hits = 0  # not a field: how many pages this rule has doctored

    def take(self, tenant: str, resource: str, offset: int) -> bool:
        """True (and counted) when this request's page should be doctored."""
        if (resource, offset) != (self.resource, self.offset):
            return False
        if self.tenant is not None and tenant != self.tenant:
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        self.hits += 1
        return True


@dataclass
class DuplicateRule(PageRule):
    """In the page asked for at ``offset``, item ``index + 1`` becomes a copy of item
    ``index``: one record twice, the next one missing, the page length unchanged."""

    resource: str
    offset: Offset
    times: Annotated[int, Field(ge=1)] | None = None
    tenant: str | None = None  # None: any tenant
    index: Offset = 0


@dataclass
class HugeRecord:
    """The record at position ``offset`` of ``resource`` (whatever page it is served in) gets
    a ``"blob": "xxx..."`` field that makes its JSON about ``bytes`` long."""

    resource: str
    offset: Offset
    bytes: Annotated[int, Field(ge=1, le=4_000_000_000)]
    tenant: str | None = None

    def index_in(self, tenant: str, resource: str, first: int, count: int) -> int | None:
        """Where the huge record is in a page of ``count`` items from position ``first``."""
        if resource != self.resource or self.tenant not in (None, tenant):
            return None
        return self.offset - first if first <= self.offset < first + count else None


@dataclass
class Drip:
    """Send page bodies ``chunk_bytes`` at a time, ``interval_ms`` apart: slow, never idle.
    ``resource``, ``offset`` (as asked for) and ``tenant`` narrow it down when set."""

    chunk_bytes: Annotated[int, Field(ge=1, le=1 << 20)] = 64
    interval_ms: Annotated[int, Field(ge=0, le=60_000)] = 500
    resource: str | None = None
    offset: Offset | None = None
    tenant: str | None = None

    def applies(self, tenant: str, resource: str, offset: int) -> bool:
        return (
            self.resource in (None, resource)
            and self.offset in (None, offset)
            and self.tenant in (None, tenant)
        )


def duplicate(items: list[dict[str, Any]], index: int) -> list[dict[str, Any]]:
    if index + 1 >= len(items):
        return items
    return [*items[: index + 1], items[index], *items[index + 2 :]]


def page_response(
    items: list[dict[str, Any]],
    total: int,
    huge_at: int | None = None,
    huge_bytes: int = 0,
    drip: Drip | None = None,
) -> Response:
    """The page as JSON: at once, or streamed when a record is huge or the body drips."""
    if huge_at is None:
        body = dumps({"items": items, "total": total}).encode()
        if drip is None:
            return Response(body, media_type="application/json")
        parts, length = _once(body), len(body)
    else:
        parts, length = _with_blob(items, total, huge_at, huge_bytes)
    stream = _dripped(parts, drip) if drip is not None else parts
    return StoppableStream(
        stream, media_type="application/json", headers={"content-length": str(length)}
    )


class StoppableStream(StreamingResponse):
    """Stops streaming when the client goes (Starlette only watches on ASGI < 2.4)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as group:

            async def stream() -> None:
                await self.stream_response(send)
                group.cancel_scope.cancel()

            group.start_soon(stream)
            await self.listen_for_disconnect(receive)
            group.cancel_scope.cancel()


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body


def _with_blob(
    items: list[dict[str, Any]], total: int, at: int, size: int
) -> tuple[AsyncIterator[bytes], int]:
    # Encode the page around a marker and stream the blob in pieces: never a second copy.
    blob = max(0, size - len(dumps(items[at]).encode()) - len(',"blob":""'))
    items = [*items[:at], {**items[at], "blob": BLOB_MARK}, *items[at + 1 :]]
    before, after = dumps({"items": items, "total": total}).split(BLOB_MARK)
    prefix, suffix = before.encode(), after.encode()

    async def parts() -> AsyncIterator[bytes]:
        yield prefix
        left = blob
        while left > 0:
            piece = _X if left >= len(_X) else _X[:left]
            left -= len(piece)
            yield piece
        yield suffix

    return parts(), len(prefix) + blob + len(suffix)


async def _dripped(parts: AsyncIterator[bytes], drip: Drip) -> AsyncIterator[bytes]:
    size, pause, sent, pending = drip.chunk_bytes, drip.interval_ms / 1000, False, b""
    async for part in parts:
        data = pending + part
        cut = len(data) - len(data) % size
        for start in range(0, cut, size):
            if sent:
                await asyncio.sleep(pause)
            yield data[start : start + size]
            sent = True
        pending = data[cut:]
    if pending:
        if sent:
            await asyncio.sleep(pause)
        yield pending
