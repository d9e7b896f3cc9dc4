"""Deterministic records for the demo source, generated on the fly from a record key.

Every record has a key: base records are keys ``0 .. n-1`` and each inserted record takes the
next key ever issued, so keys (and the ids derived from them) are never reused. A collection
that was never structurally mutated stores only its size (key == position), so 100k records cost
nothing until read; the first ``delete()`` or mid-order ``insert()`` materialises the list of
keys in their stable order. Two stores built and mutated the same way serve the same records,
apart from the ``updated_at`` of changed records (the wall clock).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from core.validation import validate_resource, validate_tenant
from demo.records import BASE_TIME, ID_STYLES, IdStyle, RecordId, record, record_id

# before_page(tenant, resource, offset, limit), as the client asked
PageHook = Callable[[str, str, int, int], None]


class UnknownCollectionError(LookupError):
    """No such tenant, or the tenant has no such resource (the app answers 404)."""


class PositionError(ValueError):
    """A position outside the collection, or given twice (the app answers 422)."""


@dataclass
class _Collection:
    resource: str
    id_style: IdStyle
    count: int
    version: int
    next_key: int  # == count while order is None
    order: list[int] | None = None  # keys in the stable order, once structurally mutated
    # key -> (updated_at, revision) for records that were updated or inserted
    touched: dict[int, tuple[datetime, int]] = field(default_factory=dict)

    def ordered_keys(self) -> Sequence[int]:
        return range(self.count) if self.order is None else self.order


class DemoStore:
    """Tenants and their collections; safe to use from many threads.

    Mutations take positions in the current stable order (0-based, before the call):
    ``update()`` changes records in place, ``insert()`` shifts later records right and
    ``delete()`` shifts them left. Changed and inserted records get a fresh, strictly increasing
    ``updated_at``, so ``updated_since`` sees them; deleted records just vanish.

    Id styles: ``int`` (1, 2, 3...), ``int-gaps`` (3, 10, 17...), ``str`` ("c-000000", a few
    non-ASCII) and ``mixed``, a lying source: the record with key k has id ``k//2 + 1``, an int
    when k is even and the same digits as a string when k is odd (ids 1, "1", 2, "2"...).

    ``before_page``: an optional ``hook(tenant, resource, offset, limit)`` the demo app calls
    (with the offset and limit the client asked for) before it serves each authorised page
    request, in the server thread and holding no lock, so it may call ``delete()`` and the like.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._tenants: dict[str, dict[str, _Collection]] = {}
        self._versions = itertools.count(1)  # store-wide, so cache keys never repeat
        self._last_stamp = BASE_TIME
        self._index_cache: dict[tuple[str, str, int, datetime], list[int]] = {}
        self.before_page: PageHook | None = None

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
            collections[resource] = _Collection(
                resource, id_style, count, next(self._versions), count
            )
        with self._lock:
            self._tenants[tenant] = collections

    def tenants(self) -> dict[str, dict[str, int]]:
        """Current record counts: ``{tenant: {resource: count}}``."""
        with self._lock:
            return {t: {r: c.count for r, c in cols.items()} for t, cols in self._tenants.items()}

    def update(self, tenant: str, resource: str, positions: Iterable[int]) -> list[RecordId]:
        """Change the records at ``positions`` in place (same id and position); their ids."""
        with self._lock:
            coll = self._collection(tenant, resource)
            order = coll.ordered_keys()
            keys = [order[p] for p in _checked(positions, coll.count, tenant, resource)]
            if not keys:
                return []
            for key in keys:
                _, revision = coll.touched.get(key, (BASE_TIME, 0))
                coll.touched[key] = (self._next_stamp(), revision + 1)
            coll.version = next(self._versions)
            return [_record_id(coll, k) for k in keys]

    def delete(self, tenant: str, resource: str, positions: Iterable[int]) -> list[RecordId]:
        """Remove the records at ``positions`` (all counted before any goes); their ids."""
        with self._lock:
            coll = self._collection(tenant, resource)
            checked = _checked(positions, coll.count, tenant, resource)
            if not checked:
                return []
            order = _materialise(coll)
            keys = [order[p] for p in checked]
            gone = set(checked)
            coll.order = [k for i, k in enumerate(order) if i not in gone]
            for key in keys:
                coll.touched.pop(key, None)
            coll.count = len(coll.order)
            coll.version = next(self._versions)
            return [_record_id(coll, k) for k in keys]

    def insert(self, tenant: str, resource: str, position: int, count: int = 1) -> list[RecordId]:
        """Insert ``count`` new records, the first at ``position`` (== size appends); ids."""
        if count < 0:
            raise ValueError(f"count must not be negative, got {count}")
        with self._lock:
            coll = self._collection(tenant, resource)
            _check_insert(position, coll.count, tenant, resource)
            if count == 0:
                return []
            keys = list(range(coll.next_key, coll.next_key + count))
            if coll.order is not None or position < coll.count:
                _materialise(coll)[position:position] = keys
            # else an append to an unmutated collection: keys stay equal to positions
            for key in keys:
                coll.touched[key] = (self._next_stamp(), 0)
            coll.next_key += count
            coll.count += count
            coll.version = next(self._versions)
            return [_record_id(coll, k) for k in keys]

    def change(
        self, tenant: str, resource: str, update: int = 0, insert: int = 0
    ) -> list[RecordId]:
        """Touch ``update`` records (spread evenly) and append ``insert`` new ones; their ids."""
        if update < 0 or insert < 0:
            raise ValueError("update and insert must not be negative")
        with self._lock:
            size = self._collection(tenant, resource).count
            if update > size:
                raise ValueError(f"cannot update {update} of {size} {resource}")
            updated = self.update(tenant, resource, [i * size // update for i in range(update)])
            return updated + self.insert(tenant, resource, size, insert)

    def apply_changes(
        self,
        tenant: str,
        resource: str,
        *,
        delete: Sequence[int] = (),
        insert_at: tuple[int, int] | None = None,
        update_at: Sequence[int] = (),
        update: int = 0,
        insert: int = 0,
    ) -> dict[str, list[RecordId]]:
        """All or nothing, in this order: ``delete``, ``insert_at`` (position, count),
        ``update_at``, ``update`` (spread evenly), ``insert`` (appended). Each step's positions
        count in the order the previous steps left. Returns the ids per step and, under
        ``ids``, all of them in that order."""
        with self._lock:
            size = self._collection(tenant, resource).count
            size -= len(_checked(delete, size, tenant, resource))
            if insert_at is not None:
                _check_insert(insert_at[0], size, tenant, resource)
                if insert_at[1] < 0:
                    raise ValueError(f"count must not be negative, got {insert_at[1]}")
                size += insert_at[1]
            _checked(update_at, size, tenant, resource)
            if not 0 <= update <= size:
                raise ValueError(f"cannot update {update} of {size} {resource}")
            if insert < 0:
                raise ValueError(f"insert must not be negative, got {insert}")
            out = {"deleted": self.delete(tenant, resource, delete)}
            out["inserted"] = self.insert(tenant, resource, *insert_at) if insert_at else []
            out["updated"] = self.update(tenant, resource, update_at)
            out["updated"] += self.change(tenant, resource, update=update)
            out["appended"] = self.insert(tenant, resource, size, insert)
            out["ids"] = [i for step in out.values() for i in step]
            return out

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
            keys = self._keys(tenant, coll, updated_since)
            window = keys[offset : offset + limit]
            return [_record(tenant, coll, k) for k in window], len(keys)

    def records(self, tenant: str, resource: str) -> list[dict[str, Any]]:
        """Every current record in the stable order (what a full sync should end with)."""
        with self._lock:
            coll = self._collection(tenant, resource)
            return [_record(tenant, coll, k) for k in coll.ordered_keys()]

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

    def _keys(self, tenant: str, coll: _Collection, since: datetime | None) -> Sequence[int]:
        if since is None:
            return coll.ordered_keys()
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        # Untouched records have updated_at = BASE_TIME + key s: those from `first` on match.
        delta = since - BASE_TIME
        first = 0 if delta <= timedelta(0) else -(-delta // timedelta(seconds=1))
        touched = coll.touched
        if not touched and coll.order is None:
            return range(min(first, coll.count), coll.count)
        key = (tenant, coll.resource, coll.version, since)
        cached = self._index_cache.get(key)
        if cached is not None:
            return cached
        keys = [
            k
            for k in coll.ordered_keys()
            if (touched[k][0] >= since if k in touched else k >= first)
        ]
        if len(self._index_cache) >= 256:
            self._index_cache.clear()
        self._index_cache[key] = keys
        return keys


def _checked(positions: Iterable[int], size: int, tenant: str, resource: str) -> list[int]:
    positions = list(positions)
    bad = [p for p in positions if not 0 <= p < size]
    if bad:
        raise PositionError(
            f"positions {bad[:10]} are out of range: {tenant}/{resource} has {size} records"
        )
    if len(set(positions)) != len(positions):
        raise PositionError(f"positions must not repeat, got {positions[:20]}")
    return positions


def _check_insert(position: int, size: int, tenant: str, resource: str) -> None:
    if not 0 <= position <= size:
        raise PositionError(
            f"insert position {position} is out of range: {tenant}/{resource} has {size} "
            f"records then (0..{size} allowed)"
        )


def _materialise(coll: _Collection) -> list[int]:
    if coll.order is None:
        coll.order = list(range(coll.count))
    return coll.order


def _record_id(coll: _Collection, key: int) -> RecordId:
    return record_id(coll.id_style, coll.resource, key)


def _record(tenant: str, coll: _Collection, key: int) -> dict[str, Any]:
    return record(tenant, coll.resource, coll.id_style, key, coll.touched.get(key))
