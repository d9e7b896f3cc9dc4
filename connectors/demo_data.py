"""Deterministic records for the demo source, generated on the fly from their position.

A collection stores only its size and the positions that ``change()`` touched, so 100k records
cost nothing until they are read, and two stores built the same way serve the same records.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from core.validation import validate_resource, validate_tenant

IdStyle = Literal["int", "int-gaps", "str"]
ID_STYLES: tuple[IdStyle, ...] = ("int", "int-gaps", "str")

# Base record n was last updated at BASE_TIME + n seconds, so base order == updated_at order.
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)

# Values that break naive escaping somewhere between JSON, SQL, HTML and a terminal.
NAMES = (
    "Ada Lovelace",
    "Zoë Ångström 東京 🚀",
    "Robert'); DROP TABLE records;--",
    '<script>alert("x")</script> & <b>',
    'O\'Brien "the quote" Smith',
    "Back\\slash \\n not a newline",
    "Tab\tSeparated\tName",
    "Line one\nLine two\r\nLine three",
    "Ünïcödé Ñandú Øresund",
    "مرحبا שלום Привет",
    "  padded name  ",
    "emoji 👩‍💻🏳️‍🌈 family 👨‍👩‍👧",
)
NOTES = (
    "plain note",
    '<script>alert("x")</script> & <b>bold</b> &amp; &lt;',
    "Robert'); DROP TABLE records;--",
    "quotes ' \" ` and backslashes \\ \\\\ end",
    "multi\nline\r\nnote\twith tabs",
    "Zoë Ångström 東京 🚀",
    "%s %d {} {0} ${HOME} $(whoami)",
    "",
    "null",
    "a" * 300,
    "\u200b zero-width and \u202e right-to-left override",
)


class UnknownCollectionError(LookupError):
    """No such tenant, or the tenant has no such resource (the app answers 404)."""


@dataclass
class _Collection:
    resource: str
    id_style: IdStyle
    count: int
    version: int
    # position -> (updated_at, revision) for records that change() touched or inserted
    touched: dict[int, tuple[datetime, int]] = field(default_factory=dict)


class DemoStore:
    """Tenants and their collections; safe to use from many threads."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._tenants: dict[str, dict[str, _Collection]] = {}
        self._versions = itertools.count(1)  # store-wide, so cache keys never repeat
        self._last_stamp = BASE_TIME
        self._index_cache: dict[tuple[str, str, int, datetime], list[int]] = {}

    @classmethod
    def default(cls) -> DemoStore:
        store = cls()
        store.add_tenant("acme", {"contacts": 2_500, "deals": 1_200}, id_style="int")
        store.add_tenant("globex", {"contacts": 300, "deals": 0}, id_style="str")
        store.add_tenant("initech", {"contacts": 1_000, "deals": 150}, id_style="int-gaps")
        return store

    def add_tenant(self, tenant: str, counts: dict[str, int], id_style: IdStyle = "int") -> None:
        """Create (or replace) a tenant with ``counts`` base records per resource."""
        validate_tenant(tenant)
        if id_style not in ID_STYLES:
            raise ValueError(f"id_style must be one of {', '.join(ID_STYLES)}, got {id_style!r}")
        collections: dict[str, _Collection] = {}
        for resource, count in counts.items():
            validate_resource(resource)
            if count < 0:
                raise ValueError(f"count for {resource!r} must not be negative, got {count}")
            collections[resource] = _Collection(resource, id_style, count, next(self._versions))
        with self._lock:
            self._tenants[tenant] = collections

    def tenants(self) -> dict[str, dict[str, int]]:
        """Current record counts: ``{tenant: {resource: count}}``."""
        with self._lock:
            return {t: {r: c.count for r, c in cols.items()} for t, cols in self._tenants.items()}

    def change(
        self, tenant: str, resource: str, update: int = 0, insert: int = 0
    ) -> list[str | int]:
        """Touch ``update`` records (spread evenly) and append ``insert`` new ones; their ids."""
        if update < 0 or insert < 0:
            raise ValueError("update and insert must not be negative")
        with self._lock:
            coll = self._collection(tenant, resource)
            if update > coll.count:
                raise ValueError(f"cannot update {update} of {coll.count} {resource}")
            updated = [i * coll.count // update for i in range(update)]
            for position in updated:
                _, revision = coll.touched.get(position, (BASE_TIME, 0))
                coll.touched[position] = (self._next_stamp(), revision + 1)
            inserted = range(coll.count, coll.count + insert)
            for position in inserted:
                coll.touched[position] = (self._next_stamp(), 0)
            coll.count += insert
            positions = [*updated, *inserted]
            coll.version = next(self._versions)
            return [_record_id(coll, p) for p in positions]

    def page(
        self,
        tenant: str,
        resource: str,
        offset: int,
        limit: int,
        updated_since: datetime | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Items ``[offset, offset + limit)`` of the filtered collection, and its size."""
        with self._lock:
            coll = self._collection(tenant, resource)
            positions = self._positions(tenant, coll, updated_since)
            window = positions[offset : offset + limit]
            return [_record(tenant, coll, p) for p in window], len(positions)

    def records(self, tenant: str, resource: str) -> list[dict[str, Any]]:
        """Every current record in the stable order (what a full sync should end with)."""
        with self._lock:
            coll = self._collection(tenant, resource)
            return [_record(tenant, coll, p) for p in range(coll.count)]

    # -- internals -----------------------------------------------------------------------------

    def _collection(self, tenant: str, resource: str) -> _Collection:
        try:
            return self._tenants[tenant][resource]
        except KeyError:
            raise UnknownCollectionError(
                f"unknown tenant or resource: {tenant}/{resource}"
            ) from None

    def _next_stamp(self) -> datetime:
        # Strictly increasing even when the clock is coarse or steps back.
        self._last_stamp = max(datetime.now(UTC), self._last_stamp + timedelta(microseconds=1))
        return self._last_stamp

    def _positions(self, tenant: str, coll: _Collection, since: datetime | None) -> Sequence[int]:
        if since is None:
            return range(coll.count)
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        # Untouched records have updated_at = BASE_TIME + position s: those from `first` on match.
        delta = since - BASE_TIME
        first = 0 if delta <= timedelta(0) else -(-delta // timedelta(seconds=1))
        touched = coll.touched
        if not touched:
            return range(min(first, coll.count), coll.count)
        key = (tenant, coll.resource, coll.version, since)
        cached = self._index_cache.get(key)
        if cached is not None:
            return cached
        positions = [
            p for p in range(coll.count) if (touched[p][0] >= since if p in touched else p >= first)
        ]
        if len(self._index_cache) >= 256:
            self._index_cache.clear()
        self._index_cache[key] = positions
        return positions


def _record_id(coll: _Collection, position: int) -> str | int:
    if coll.id_style == "int":
        return position + 1
    if coll.id_style == "int-gaps":
        return position * 7 + 3
    if position % 97 == 41:  # a few non-ASCII string ids
        return f"ü-{position}"
    return f"{coll.resource[0]}-{position:06d}"


def _record(tenant: str, coll: _Collection, position: int) -> dict[str, Any]:
    stamp, revision = coll.touched.get(position, (None, 0))
    if stamp is None:
        base = BASE_TIME + timedelta(seconds=position)
        updated_at = base.strftime("%Y-%m-%dT%H:%M:%SZ")
    else:
        updated_at = stamp.isoformat()
    note = NOTES[position % len(NOTES)]
    return {
        "id": _record_id(coll, position),
        "updated_at": updated_at,
        "name": NAMES[(position + revision) % len(NAMES)],
        "email": f"user{position}+{coll.resource}@{tenant}.example.com",
        "amount": ((position * 7919 + revision * 104_729) % 1_000_000) / 100,
        "note": f"{note} (edit {revision})" if revision else note,
    }
