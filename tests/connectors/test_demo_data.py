"""DemoStore: deterministic records, tenants, changes and the updated_since filter."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from connectors.demo_data import BASE_TIME, DemoStore, UnknownCollectionError
from core.errors import InvalidInputError


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
