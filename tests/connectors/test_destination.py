"""The records table on SQLite and PostgreSQL: atomic upserts per chunk."""

from __future__ import annotations

import pytest

from connectors.destination import Destination, get_destination
from core import DestinationError
from tests.factories import make_items

AWKWARD = [
    "Zoë Ångström 東京 🚀",
    '<script>alert("x")</script> & <b>bold</b>',
    "Robert'); DROP TABLE records;--",
    "quotes \" ' back\\slash\nnew line\ttab",
    "\u2028\u2029 line separators, \u00a0 nbsp",
]


@pytest.fixture
def dest(db_url: str) -> Destination:
    return get_destination(db_url)


def test_upsert_writes_once_and_updates_in_place(dest: Destination) -> None:
    assert dest.write_chunk("acme", "contacts", "job-1", make_items(50)) == 50
    changed = make_items(10, name="changed") + make_items(5, start=50)
    assert dest.write_chunk("acme", "contacts", "job-2", changed) == 15
    rows = dest.read("acme", "contacts")
    assert len(rows) == 55 and dest.count("acme") == 55
    assert rows["3"]["name"] == "changed" and rows["20"]["name"] == "r20"


def test_payloads_are_stored_exactly(dest: Destination) -> None:
    items = [
        {
            "id": f"ü-{i}",
            "updated_at": "2026-01-01T00:00:00Z",
            "note": text,
            "nested": {"a": [1, None, 2.5]},
        }
        for i, text in enumerate(AWKWARD)
    ]
    items.append({"id": 10**15, "updated_at": "not a date", "big": 2**53 + 1})
    items.append({"id": "huge", "beyond_64_bits": 2**70, "negative": -(2**65)})
    dest.write_chunk("acme", "deals", "job-1", items)
    rows = dest.read("acme", "deals")
    for item in items:
        assert rows[str(item["id"])] == item


def test_duplicate_ids_in_one_chunk_keep_the_last(dest: Destination) -> None:
    items = [*make_items(3), {"id": 1, "updated_at": "2026-02-01T00:00:00+00:00", "name": "last"}]
    assert dest.write_chunk("acme", "contacts", "job-1", items) == 3
    assert dest.read("acme", "contacts")["1"]["name"] == "last"


def test_a_chunk_is_written_whole_or_not_at_all(dest: Destination) -> None:
    items = [*make_items(20), {"id": 99, "updated_at": "x", "bad": {1, 2}}]  # a set is not JSON
    with pytest.raises((DestinationError, TypeError)):
        dest.write_chunk("acme", "contacts", "job-1", items)
    assert dest.count("acme") == 0


def test_tenants_and_resources_are_isolated(dest: Destination) -> None:
    dest.write_chunk("acme", "contacts", "j", make_items(5))
    dest.write_chunk("globex", "contacts", "j", make_items(3))
    dest.write_chunk("acme", "deals", "j", make_items(2))
    assert (dest.count("acme", "contacts"), dest.count("globex"), dest.count("acme")) == (5, 3, 7)
    assert dest.write_chunk("acme", "contacts", "j", []) == 0
