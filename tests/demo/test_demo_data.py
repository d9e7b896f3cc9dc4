"""DemoStore: deterministic records, tenants, changes and the updated_since filter."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.errors import InvalidInputError
from demo.data import BASE_TIME, DemoStore, PositionError, UnknownCollectionError


def test_default_tenants() -> None:
    assert DemoStore.default().tenants() == {
        "acme": {"contacts": 2_500, "deals": 1_200},
        "globex": {"contacts": 300, "deals": 0},
        "initech": {"contacts": 1_000, "deals": 150},
    }


def test_two_stores_serve_identical_records() -> None:
    one, two = DemoStore.default(), DemoStore.default()
    for tenant, resources in one.tenants().items():
        for resource in resources:
            assert one.records(tenant, resource) == two.records(tenant, resource)


def test_record_shape_and_base_timestamps() -> None:
    records = DemoStore.default().records("acme", "contacts")
    assert set(records[0]) == {"id", "updated_at", "name", "email", "amount", "note"}
    assert records[0]["updated_at"] == "2026-01-01T00:00:00Z"
    assert records[61]["updated_at"] == "2026-01-01T00:01:01Z"
    stamps = [datetime.fromisoformat(r["updated_at"]) for r in records]
    assert stamps == sorted(stamps)


def test_id_styles() -> None:
    store = DemoStore.default()
    acme = [r["id"] for r in store.records("acme", "contacts")]
    assert acme == list(range(1, 2_501))
    gaps = [r["id"] for r in store.records("initech", "contacts")]
    assert gaps[:3] == [3, 10, 17] and len(set(gaps)) == 1_000
    assert all(isinstance(i, int) for i in gaps) and gaps[-1] > 1_000
    strings = [r["id"] for r in store.records("globex", "contacts")]
    assert len(set(strings)) == 300 and all(isinstance(i, str) for i in strings)
    assert "c-000000" in strings and any(not i.isascii() for i in strings)


def test_awkward_values_without_nul() -> None:
    records = DemoStore.default().records("acme", "contacts")
    text = json.dumps(records, ensure_ascii=False)
    for needle in ("Zoë Ångström 東京 🚀", "<script>", "DROP TABLE", "\\n", "\\t", '\\"', "\\\\"):
        assert needle in text
    assert "\x00" not in text and "\\u0000" not in text


def test_page_and_total() -> None:
    store = DemoStore.default()
    items, total = store.page("acme", "deals", 1_190, 100)
    assert total == 1_200 and [i["id"] for i in items] == list(range(1_191, 1_201))
    assert store.page("acme", "deals", 5_000, 100) == ([], 1_200)
    assert store.page("globex", "deals", 0, 100) == ([], 0)


def test_unknown_tenant_or_resource() -> None:
    store = DemoStore.default()
    for tenant, resource in [("umbrella", "contacts"), ("acme", "invoices")]:
        with pytest.raises(UnknownCollectionError, match="unknown tenant or resource"):
            store.page(tenant, resource, 0, 10)
        with pytest.raises(LookupError):
            store.change(tenant, resource, update=1)


def test_updated_since_filter() -> None:
    store = DemoStore.default()
    since = BASE_TIME + timedelta(seconds=2_400)
    items, total = store.page("acme", "contacts", 0, 10, since)
    assert total == 100 and items[0]["id"] == 2_401
    # between two records: the later one is the first to match
    _, total = store.page("acme", "contacts", 0, 10, since + timedelta(milliseconds=1))
    assert total == 99
    # a naive datetime is UTC; a far past or future bound keeps everything or nothing
    assert store.page("acme", "contacts", 0, 1, since.replace(tzinfo=None))[1] == 100
    assert store.page("acme", "contacts", 0, 1, datetime(2000, 1, 1, tzinfo=UTC))[1] == 2_500
    assert store.page("acme", "contacts", 0, 1, datetime(2100, 1, 1, tzinfo=UTC))[1] == 0


def test_change_updates_and_inserts() -> None:
    store = DemoStore.default()
    before = store.records("acme", "deals")
    started = datetime.now(UTC) - timedelta(seconds=1)
    touched = store.change("acme", "deals", update=4, insert=3)
    assert touched == [1, 301, 601, 901, 1_201, 1_202, 1_203]  # evenly spread, then appended
    after = store.records("acme", "deals")
    assert len(after) == 1_203
    assert [r["id"] for r in after[:1_200]] == [r["id"] for r in before]  # stable order
    changed = [r for r in after if r["id"] in touched]
    stamps = [datetime.fromisoformat(r["updated_at"]) for r in changed]
    assert stamps == sorted(stamps) and len(set(stamps)) == 7 and stamps[0] > started
    assert after[0]["note"] != before[0]["note"] and after[0]["id"] == before[0]["id"]
    assert after[1] == before[1]
    items, total = store.page("acme", "deals", 0, 100, started)
    assert total == 7 and [i["id"] for i in items] == touched
    assert store.tenants()["acme"]["deals"] == 1_203


def test_repeated_changes_keep_increasing() -> None:
    store = DemoStore.default()
    first = store.change("acme", "contacts", update=1)
    mark = datetime.now(UTC) - timedelta(microseconds=1)
    store.change("acme", "contacts", update=1)
    items, total = store.page("acme", "contacts", 0, 10, mark)
    assert total == 1 and items[0]["id"] == first[0]
    assert items[0]["note"].endswith("(edit 2)")


def test_change_rejects_nonsense() -> None:
    store = DemoStore.default()
    with pytest.raises(ValueError):
        store.change("acme", "deals", update=-1)
    with pytest.raises(ValueError):
        store.change("acme", "deals", update=5_000)
    assert store.change("globex", "deals", insert=2) == ["d-000000", "d-000001"]


def test_add_tenant() -> None:
    store = DemoStore()
    store.add_tenant("big", {"contacts": 100_000})
    items, total = store.page("big", "contacts", 99_990, 100)
    assert total == 100_000 and len(items) == 10
    with pytest.raises(InvalidInputError):
        store.add_tenant("Bad Name!", {"contacts": 1})
    with pytest.raises(ValueError):
        store.add_tenant("ok", {"contacts": -1})
    with pytest.raises(ValueError):
        store.add_tenant("ok", {"contacts": 1}, id_style="uuid")  # type: ignore[arg-type]


def test_threads_can_read_while_another_changes() -> None:
    store = DemoStore.default()
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(50):
                items, total = store.page("acme", "contacts", 0, 100, BASE_TIME)
                assert len(items) == 100 and total >= 2_500
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for _ in range(50):
        store.change("acme", "contacts", update=3, insert=1)
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.tenants()["acme"]["contacts"] == 2_550


# -- mutations in the middle of the stable order --------------------------------------------------


def all_pages(
    store: DemoStore, tenant: str, resource: str, size: int, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Every page, ``size`` at a time, as a client would read them."""
    records: list[dict[str, Any]] = []
    while True:
        items, total = store.page(tenant, resource, len(records), size, since)
        if not items:
            assert total == len(records)
            return records
        records.extend(items)


def updated_since(records: list[dict[str, Any]], since: datetime) -> list[dict[str, Any]]:
    return [r for r in records if datetime.fromisoformat(r["updated_at"]) >= since]


def test_delete_shifts_later_records_left() -> None:
    store = DemoStore.default()
    before = store.records("acme", "contacts")
    assert store.delete("acme", "contacts", [10, 0, 2_499]) == [11, 1, 2_500]
    after = store.records("acme", "contacts")
    assert after == [r for i, r in enumerate(before) if i not in {0, 10, 2_499}]
    assert [r["id"] for r in after[8:10]] == [10, 12]  # the old 9 is at 8, the old 11 at 9
    assert store.tenants()["acme"]["contacts"] == 2_497
    assert all_pages(store, "acme", "contacts", 333) == after
    assert store.page("acme", "contacts", 0, 1)[1] == 2_497
    assert store.delete("acme", "contacts", []) == []


def test_insert_shifts_later_records_right() -> None:
    store = DemoStore.default()
    before = store.records("acme", "deals")
    started = datetime.now(UTC) - timedelta(seconds=1)
    ids = store.insert("acme", "deals", 5, count=3)
    assert ids == [1_201, 1_202, 1_203]
    after = store.records("acme", "deals")
    assert after[:5] == before[:5] and after[8:] == before[5:]
    assert [r["id"] for r in after[5:8]] == ids
    stamps = [datetime.fromisoformat(r["updated_at"]) for r in after[5:8]]
    assert stamps == sorted(set(stamps)) and stamps[0] > started
    assert all_pages(store, "acme", "deals", 100, started) == after[5:8]  # a partial sync
    assert all_pages(store, "acme", "deals", 77) == after
    assert store.insert("acme", "deals", 1_203) == [1_204]  # position == size appends
    assert store.records("acme", "deals")[-1]["id"] == 1_204
    assert store.tenants()["acme"]["deals"] == 1_204


def test_new_ids_are_never_reused() -> None:
    store = DemoStore.default()
    assert store.delete("acme", "deals", [1_199]) == [1_200]  # the highest id goes...
    assert store.insert("acme", "deals", 0) == [1_201]  # ...and is not issued again
    assert store.change("acme", "deals", insert=1) == [1_202]
    ids = [r["id"] for r in store.records("acme", "deals")]
    assert len(set(ids)) == len(ids) == 1_201 and ids[0] == 1_201
    assert store.insert("initech", "deals", 3, 2) == [1_053, 1_060]  # int-gaps: key * 7 + 3
    assert store.insert("globex", "contacts", 0) == ["c-000300"]
    for tenant, resource in [("initech", "deals"), ("globex", "contacts")]:
        ids = [r["id"] for r in store.records(tenant, resource)]
        assert len(set(ids)) == len(ids)


def test_update_keeps_position_and_id() -> None:
    store = DemoStore.default()
    store.delete("acme", "contacts", [0])  # positions count in the current order
    before = store.records("acme", "contacts")
    mark = datetime.now(UTC) - timedelta(microseconds=1)
    assert store.update("acme", "contacts", [3, 7]) == [5, 9]
    after = store.records("acme", "contacts")
    assert [r["id"] for r in after] == [r["id"] for r in before]
    assert after[3]["note"].endswith("(edit 1)") and after[4] == before[4]
    assert [r["id"] for r in all_pages(store, "acme", "contacts", 100, mark)] == [5, 9]


def test_updated_since_after_mutations() -> None:
    store = DemoStore.default()
    store.delete("acme", "contacts", [2_450, 5, 2_499])
    store.insert("acme", "contacts", 2_440, 2)
    store.update("acme", "contacts", [0, 2_441])
    store.insert("acme", "contacts", 1)
    records = store.records("acme", "contacts")
    for since in [BASE_TIME, BASE_TIME + timedelta(seconds=2_430), datetime.now(UTC)]:
        expected = updated_since(records, since)
        assert all_pages(store, "acme", "contacts", 7, since) == expected
    inserted_and_updated = updated_since(records, BASE_TIME + timedelta(days=1))
    assert [r["id"] for r in inserted_and_updated] == [1, 2_503, 2_501, 2_502]


def test_mutations_reject_bad_positions_and_change_nothing() -> None:
    store = DemoStore.default()
    before = store.records("acme", "deals")
    for call in [
        lambda: store.delete("acme", "deals", [1_200]),
        lambda: store.delete("acme", "deals", [3, 3]),
        lambda: store.update("acme", "deals", [-1]),
        lambda: store.insert("acme", "deals", 1_201),
        lambda: store.insert("acme", "deals", -1),
        lambda: store.apply_changes("acme", "deals", delete=[0], insert_at=(1_200, 1)),
        lambda: store.apply_changes("acme", "deals", insert_at=(0, 1), update_at=[1_201]),
    ]:
        with pytest.raises(PositionError, match=r"out of range|repeat"):
            call()
    with pytest.raises(ValueError, match="negative"):
        store.insert("acme", "deals", 0, -1)
    with pytest.raises(UnknownCollectionError):
        store.delete("acme", "invoices", [0])
    assert store.records("acme", "deals") == before


def test_apply_changes_steps_in_order() -> None:
    store = DemoStore.default()
    out = store.apply_changes(
        "acme", "deals", delete=[0, 1], insert_at=(0, 2), update_at=[0, 2], update=1, insert=1
    )
    assert out == {
        "deleted": [1, 2],
        "inserted": [1_201, 1_202],
        "updated": [1_201, 3, 1_201],
        "appended": [1_203],
        "ids": [1, 2, 1_201, 1_202, 1_201, 3, 1_201, 1_203],
    }
    ids = [r["id"] for r in store.records("acme", "deals")]
    assert ids[:4] == [1_201, 1_202, 3, 4] and ids[-1] == 1_203 and len(ids) == 1_201
    assert store.records("acme", "deals")[0]["note"].endswith("(edit 2)")


def test_unmutated_collections_stay_cheap() -> None:
    store = DemoStore()
    store.add_tenant("big", {"contacts": 100_000})
    store.change("big", "contacts", update=10, insert=5)  # in place and appends: no list
    collection = store._collection("big", "contacts")
    assert collection.order is None and len(collection.touched) == 15
    store.delete("big", "contacts", [50_000])
    assert collection.order is not None and len(collection.order) == 100_004
    items, total = store.page("big", "contacts", 49_999, 2)
    assert total == 100_004 and [i["id"] for i in items] == [50_000, 50_002]


def test_mixed_ids_collide_as_text() -> None:
    store = DemoStore()
    store.add_tenant("liar", {"contacts": 6}, id_style="mixed")
    ids = [r["id"] for r in store.records("liar", "contacts")]
    assert ids == [1, "1", 2, "2", 3, "3"]
    assert store.insert("liar", "contacts", 0, 2) == [4, "4"]


def test_threads_can_read_while_another_deletes_and_inserts() -> None:
    store = DemoStore.default()
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(30):
                items, total = store.page("acme", "contacts", 0, 100, BASE_TIME)
                assert len(items) == 100 and total >= 2_400
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for i in range(30):
        store.delete("acme", "contacts", [i * 7, i * 7 + 1])
        store.insert("acme", "contacts", i * 11)
    for thread in threads:
        thread.join()
    assert errors == []
    ids = [r["id"] for r in store.records("acme", "contacts")]
    assert len(ids) == len(set(ids)) == 2_470
