"""The demo source over real loopback HTTP: contract, faults, admin endpoints, end to end."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from chunking import plan_chunks
from connectors.retry import RetryPolicy
from connectors.source import RestSource
from core.errors import (
    MalformedPageError,
    SourceAuthError,
    SourceNotFoundError,
    TransientSourceError,
)
from demo.data import BASE_TIME, DemoStore
from demo.faults import DemoFaults, MalformedRule
from demo.lies import Drip, DuplicateRule, HugeRecord
from demo.source import DemoSourceServer

FAST_RETRY = RetryPolicy(attempts=12, base_delay=0.001, max_delay=0.01)


@pytest.fixture
def client(demo_source: DemoSourceServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo_source.url, timeout=10) as client:
        yield client


def get_page(
    client: httpx.Client, path: str = "/tenants/acme/contacts", **params: Any
) -> httpx.Response:
    return client.get(path, params=params)


# -- the contract -------------------------------------------------------------------------------


def test_pages_and_totals(client: httpx.Client, demo_source: DemoSourceServer) -> None:
    response = get_page(client, offset=10, limit=5)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["total"] == 2_500
    assert [item["id"] for item in body["items"]] == [11, 12, 13, 14, 15]
    assert body["items"] == demo_source.store.records("acme", "contacts")[10:15]
    assert get_page(client, "/tenants/globex/deals").json() == {"items": [], "total": 0}


def test_two_servers_serve_the_same_bytes() -> None:
    with DemoSourceServer() as one, DemoSourceServer() as two:
        assert one.url != two.url
        path = "/tenants/globex/contacts?offset=37&limit=60"
        assert httpx.get(one.url + path).content == httpx.get(two.url + path).content


def test_page_cap(client: httpx.Client, demo_source: DemoSourceServer) -> None:
    demo_source.faults.page_cap = 7
    body = get_page(client, offset=0, limit=100).json()
    assert len(body["items"]) == 7 and body["total"] == 2_500


def test_updated_since_filters_items_and_total(client: httpx.Client) -> None:
    since = BASE_TIME + timedelta(seconds=2_400)
    body = get_page(client, limit=3, updated_since=since.isoformat()).json()
    assert body["total"] == 100 and [i["id"] for i in body["items"]] == [2_401, 2_402, 2_403]
    same = since.astimezone(timezone(timedelta(hours=-5))).isoformat()
    assert get_page(client, limit=1, updated_since=same).json()["total"] == 100
    zulu = get_page(client, limit=1, updated_since="2026-01-01T00:40:00Z").json()
    assert zulu["total"] == 100


def test_an_unencoded_plus_is_refused(demo_source: DemoSourceServer) -> None:
    # '+' in a query string means a space: a client that forgets to encode it gets a 422.
    url = demo_source.url + "/tenants/acme/contacts?updated_since=2026-01-01T00:00:00+00:00"
    assert httpx.get(url).status_code == 422


def test_changes_through_the_admin_endpoint(client: httpx.Client) -> None:
    mark = datetime.now(UTC) - timedelta(seconds=1)
    response = client.post("/_demo/tenants/acme/deals/changes", json={"update": 2, "insert": 1})
    assert response.status_code == 200
    touched = response.json()["ids"]
    assert touched == [1, 601, 1_201]
    body = get_page(client, "/tenants/acme/deals", updated_since=mark.isoformat()).json()
    assert [i["id"] for i in body["items"]] == touched and body["total"] == 3
    assert get_page(client, "/tenants/acme/deals").json()["total"] == 1_201
    bad = client.post("/_demo/tenants/acme/deals/changes", json={"update": -1})
    assert bad.status_code == 422
    missing = client.post("/_demo/tenants/nope/deals/changes", json={"insert": 1})
    assert missing.status_code == 404


def test_adding_a_tenant(client: httpx.Client) -> None:
    created = client.post(
        "/_demo/tenants", json={"tenant": "hooli", "counts": {"tickets": 42}, "id_style": "str"}
    )
    assert created.status_code == 201 and created.json() == {"hooli": {"tickets": 42}}
    body = get_page(client, "/tenants/hooli/tickets", limit=1).json()
    assert body["total"] == 42 and body["items"][0]["id"] == "t-000000"
    assert client.get("/_demo/tenants").json()["hooli"] == {"tickets": 42}
    bad = client.post("/_demo/tenants", json={"tenant": "Not OK", "counts": {"x": 1}})
    assert bad.status_code == 422


def test_token_is_required_when_set(client: httpx.Client, demo_source: DemoSourceServer) -> None:
    demo_source.faults.token = "demo-secret"
    assert get_page(client).status_code == 401
    wrong = client.get("/tenants/acme/contacts", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"
    right = client.get("/tenants/acme/contacts", headers={"Authorization": "Bearer demo-secret"})
    assert right.status_code == 200
    assert client.get("/_demo/stats").status_code == 200  # admin needs no token
    assert client.get("/_demo/faults").json()["token"] == "***"
    assert "demo-secret" not in repr(demo_source.faults)


@pytest.mark.parametrize("path", ["/tenants/umbrella/contacts", "/tenants/acme/invoices"])
def test_unknown_tenant_or_resource_is_404(client: httpx.Client, path: str) -> None:
    response = get_page(client, path)
    assert response.status_code == 404
    assert "unknown tenant or resource" in response.json()["detail"]


@pytest.mark.parametrize(
    "params",
    [{"offset": -1}, {"limit": 0}, {"limit": 10_001}, {"offset": "x"}, {"updated_since": "soon"}],
)
def test_bad_parameters_are_422(client: httpx.Client, params: dict[str, str | int]) -> None:
    assert client.get("/tenants/acme/contacts", params=params).status_code == 422


def test_mid_order_changes_through_the_admin_endpoint(
    client: httpx.Client, demo_source: DemoSourceServer
) -> None:
    url = "/_demo/tenants/acme/deals/changes"
    before = demo_source.store.records("acme", "deals")
    response = client.post(url, json={"delete": [0, 5], "insert_at": {"position": 1, "count": 2}})
    assert response.status_code == 200
    assert response.json() == {
        "deleted": [1, 6],
        "inserted": [1_201, 1_202],
        "updated": [],
        "appended": [],
        "ids": [1, 6, 1_201, 1_202],
    }
    ids = [i["id"] for i in get_page(client, "/tenants/acme/deals", limit=6).json()["items"]]
    assert ids == [2, 1_201, 1_202, 3, 4, 5]
    assert client.post(url, json={"update_at": [1]}).json()["updated"] == [1_201]
    assert client.get("/_demo/tenants").json()["acme"]["deals"] == 1_200
    after = demo_source.store.records("acme", "deals")
    assert [after[0], *after[3:]] == [r for i, r in enumerate(before) if i not in {0, 5}]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"delete": [1_200]}, 422, "out of range"),
        ({"delete": [2, 2]}, 422, "must not repeat"),
        ({"delete": [-1]}, 422, "greater than or equal to 0"),
        ({"delete": [0], "insert_at": {"position": 1_200}}, 422, "out of range"),
        ({"update_at": [1_200]}, 422, "out of range"),
        ({"insert_at": {"count": 1}}, 422, "position"),
    ],
)
def test_bad_mid_order_changes_change_nothing(
    client: httpx.Client, body: dict[str, Any], status: int, message: str
) -> None:
    response = client.post("/_demo/tenants/acme/deals/changes", json=body)
    assert response.status_code == status and message in response.text
    assert client.get("/_demo/tenants").json()["acme"]["deals"] == 1_200
    missing = client.post("/_demo/tenants/acme/nope/changes", json={"delete": [0]})
    assert missing.status_code == 404 and "acme/nope" in missing.json()["detail"]


def test_before_page_hook_changes_the_source_mid_read(
    client: httpx.Client, demo_source: DemoSourceServer
) -> None:
    calls: list[tuple[str, str, int, int]] = []
    deleted: list[object] = []

    def hook(tenant: str, resource: str, offset: int, limit: int) -> None:
        calls.append((tenant, resource, offset, limit))
        if (resource, offset) == ("contacts", 200) and not deleted:
            deleted.extend(demo_source.store.delete(tenant, resource, [50]))

    demo_source.store.before_page = hook
    demo_source.faults.page_cap = 100
    pages = [get_page(client, offset=o, limit=150).json() for o in (0, 100, 200, 200)]
    assert [p["total"] for p in pages] == [2_500, 2_500, 2_499, 2_499]
    assert deleted == [51] and pages[2]["items"][0]["id"] == 202  # shifted left by one
    assert calls == [("acme", "contacts", o, 150) for o in (0, 100, 200, 200)]
    get_page(client, "/tenants/nope/contacts")  # called for unknown collections too
    assert calls[-1] == ("nope", "contacts", 0, 100)


# -- faults -------------------------------------------------------------------------------------


def test_429_carries_retry_after(client: httpx.Client, demo_source: DemoSourceServer) -> None:
    demo_source.faults.rate_429 = 1.0
    demo_source.faults.retry_after = 0.25
    response = get_page(client)
    assert response.status_code == 429 and response.headers["Retry-After"] == "0.25"
    demo_source.faults.retry_after = 2
    assert get_page(client).headers["Retry-After"] == "2"


def test_load_limit_per_tenant_over_a_sliding_window() -> None:
    faults = DemoFaults(max_rps=5)
    assert [faults.admit("acme", now=t / 10) for t in range(7)] == [True] * 5 + [False] * 2
    assert faults.admit("globex", now=0.6)  # per tenant
    assert not any(faults.admit("acme", now=0.9) for _ in range(50))  # refusals do not count
    assert faults.admit("acme", now=1.05) and not faults.admit("acme", now=1.06)
    assert DemoFaults().admit("acme")  # off by default
    half = DemoFaults(max_rps=0.5, rps_window=4)  # two per four seconds
    assert [half.admit("acme", now=t) for t in (0, 1, 2, 4.5)] == [True, True, False, True]


def test_load_limit_over_http(client: httpx.Client, demo_source: DemoSourceServer) -> None:
    response = client.put("/_demo/faults", json={"max_rps": 3, "rps_window": 5, "retry_after": 0.5})
    assert response.status_code == 200 and response.json()["max_rps"] == 3
    statuses = [get_page(client).status_code for _ in range(20)]
    assert statuses == [200] * 15 + [429] * 5
    refused = get_page(client)
    assert refused.headers["Retry-After"] == "0.5" and "requests per second" in refused.text
    assert get_page(client, "/tenants/globex/contacts").status_code == 200
    assert demo_source.stats.count(429) == 6  # counted like any other outcome
    assert client.put("/_demo/faults", json={"max_rps": 0}).status_code == 422
    client.put("/_demo/faults", json={})
    assert get_page(client).status_code == 200


def test_5xx(client: httpx.Client, demo_source: DemoSourceServer) -> None:
    demo_source.faults.rate_5xx = 1.0
    demo_source.faults.seed = 3
    statuses = {get_page(client).status_code for _ in range(30)}
    assert statuses <= {500, 502, 503, 504} and len(statuses) > 1


def test_dropped_connection_is_a_transport_error(
    client: httpx.Client, demo_source: DemoSourceServer
) -> None:
    demo_source.faults.rate_drop = 1.0
    with pytest.raises(httpx.TransportError):
        get_page(client)
    demo_source.faults.rate_drop = 0.0
    assert get_page(client).status_code == 200  # the server itself is fine
    assert demo_source.stats.count("dropped") == 1


def test_slow_pages(client: httpx.Client, demo_source: DemoSourceServer) -> None:
    demo_source.faults.slow_ms = 150
    started = time.monotonic()
    assert get_page(client).status_code == 200
    assert time.monotonic() - started >= 0.15


def test_persistent_malformed_page(client: httpx.Client, demo_source: DemoSourceServer) -> None:
    demo_source.faults.malformed = [MalformedRule("contacts", 100)]
    for _ in range(3):
        response = get_page(client, offset=100)
        assert response.status_code == 200
        with pytest.raises(ValueError):
            response.json()
    assert get_page(client, offset=200).json()["total"] == 2_500
    assert get_page(client, "/tenants/acme/deals", offset=100).json()["total"] == 1_200


def test_malformed_page_for_the_first_n_requests(
    client: httpx.Client, demo_source: DemoSourceServer
) -> None:
    demo_source.faults.malformed = [
        MalformedRule("deals", 0, times=2, kind="missing-items", tenant="acme")
    ]
    bodies = [get_page(client, "/tenants/acme/deals").json() for _ in range(3)]
    assert "items" not in bodies[0] and "items" not in bodies[1]
    assert len(bodies[2]["items"]) == 100
    assert "items" in get_page(client, "/tenants/initech/deals").json()  # other tenant


@pytest.mark.parametrize("kind", ["missing-total", "bad-items"])
def test_other_malformed_kinds(
    client: httpx.Client, demo_source: DemoSourceServer, kind: str
) -> None:
    demo_source.faults.malformed = [MalformedRule("contacts", 0, kind=kind)]  # type: ignore[arg-type]
    body = get_page(client).json()
    assert "total" not in body or any(not isinstance(i, dict) for i in body["items"])


def test_faults_replaced_over_http(client: httpx.Client, demo_source: DemoSourceServer) -> None:
    faults = demo_source.faults
    new = {"page_cap": 3, "malformed": [{"resource": "deals", "offset": 0, "times": 1}]}
    response = client.put("/_demo/faults", json=new)
    assert response.status_code == 200
    assert demo_source.faults is faults  # replaced in place: references stay live
    assert faults.page_cap == 3 and faults.malformed == [MalformedRule("deals", 0, times=1)]
    assert len(get_page(client).json()["items"]) == 3
    assert client.put("/_demo/faults", json={"rate_429": 2}).status_code == 422
    assert client.put("/_demo/faults", json={}).status_code == 200
    assert faults == DemoFaults()


def test_stats(client: httpx.Client, demo_source: DemoSourceServer) -> None:
    get_page(client)
    get_page(client, "/tenants/nope/contacts")
    get_page(client, limit=0)
    demo_source.faults.rate_429 = 1.0
    get_page(client)
    stats = client.get("/_demo/stats").json()
    assert stats == {"total": 4, "by_status": {"200": 1, "404": 1, "422": 1, "429": 1}}
    assert demo_source.stats.total == 4 and demo_source.stats.count(429) == 1
    assert client.post("/_demo/reset-stats").json() == {"total": 0, "by_status": {}}


def test_server_stops_cleanly() -> None:
    server = DemoSourceServer().start()
    url = server.url
    assert httpx.get(url + "/_demo/stats").status_code == 200
    server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/_demo/stats")
    server.stop()  # idempotent


# -- lies ---------------------------------------------------------------------------------------


def test_ignore_offset(client: httpx.Client, demo_source: DemoSourceServer) -> None:
    demo_source.faults.ignore_offset = True
    body = get_page(client, offset=500, limit=3).json()
    assert [i["id"] for i in body["items"]] == [1, 2, 3] and body["total"] == 2_500


def test_lie_total(client: httpx.Client, demo_source: DemoSourceServer) -> None:
    client.put("/_demo/faults", json={"lie_total": 10**12})
    body = get_page(client, offset=10, limit=2).json()
    assert body["total"] == 10**12 and [i["id"] for i in body["items"]] == [11, 12]
    assert client.put("/_demo/faults", json={"lie_total": -1}).status_code == 422


def test_duplicate_ids(client: httpx.Client, demo_source: DemoSourceServer) -> None:
    rule = {"resource": "contacts", "offset": 100, "index": 3, "times": 1}
    assert client.put("/_demo/faults", json={"duplicate_ids": [rule]}).status_code == 200
    assert demo_source.faults.duplicate_ids == [DuplicateRule("contacts", 100, 1, index=3)]
    items = get_page(client, offset=100, limit=10).json()["items"]
    assert [i["id"] for i in items] == [101, 102, 103, 104, 104, 106, 107, 108, 109, 110]
    assert items[4] == items[3]
    short = get_page(client, offset=100, limit=3).json()["items"]  # the rule fired once
    assert [i["id"] for i in short] == [101, 102, 103]
    assert get_page(client, offset=100, limit=10).json()["items"][4]["id"] == 105  # times=1
    assert client.get("/_demo/faults").json()["duplicate_ids"][0]["hits"] == 1
    demo_source.faults.duplicate_ids = [DuplicateRule("deals", 0, tenant="initech")]
    assert get_page(client, "/tenants/acme/deals", limit=2).json()["items"][1]["id"] == 2
    items = get_page(client, "/tenants/initech/deals", limit=2).json()["items"]
    assert items[0] == items[1]


def test_mixed_ids_over_http(client: httpx.Client) -> None:
    created = client.post(
        "/_demo/tenants", json={"tenant": "liar", "counts": {"contacts": 4}, "id_style": "mixed"}
    )
    assert created.status_code == 201
    items = get_page(client, "/tenants/liar/contacts").json()["items"]
    assert [i["id"] for i in items] == [1, "1", 2, "2"]


def test_huge_record_is_streamed(client: httpx.Client, demo_source: DemoSourceServer) -> None:
    size = 3_000_000
    huge = {"resource": "contacts", "offset": 105, "bytes": size}
    assert client.put("/_demo/faults", json={"huge_record": huge}).status_code == 200
    assert demo_source.faults.huge_record == HugeRecord("contacts", 105, size)
    records = demo_source.store.records("acme", "contacts")
    response = get_page(client, offset=100, limit=10)
    assert int(response.headers["content-length"]) == len(response.content)
    items = response.json()["items"]
    blob = items[5].pop("blob")
    assert set(blob) == {"x"} and items == records[100:110]
    record = json.dumps({**items[5], "blob": blob}, ensure_ascii=False, separators=(",", ":"))
    assert abs(len(record.encode()) - size) < 10
    assert "blob" not in get_page(client, offset=106).text  # wherever the page starts
    assert len(get_page(client, offset=0, limit=200).content) > size
    assert "blob" not in get_page(client, "/tenants/acme/deals", offset=100).text
    assert (
        client.put("/_demo/faults", json={"huge_record": {**huge, "bytes": 0}}).status_code == 422
    )


def test_drip_is_slow_but_never_idle(demo_source: DemoSourceServer) -> None:
    with httpx.Client(base_url=demo_source.url, timeout=0.5) as client:
        plain = get_page(client, limit=6).content
        drip = {"chunk_bytes": 64, "interval_ms": 100, "resource": "contacts"}
        assert client.put("/_demo/faults", json={"drip": drip}).status_code == 200
        assert demo_source.faults.drip == Drip(64, 100, "contacts")
        started = time.monotonic()
        dripped = get_page(client, limit=6)  # the 0.5 s read timeout never fires
        elapsed = time.monotonic() - started
        pieces = -(-len(plain) // 64)
        assert dripped.content == plain and pieces > 15
        assert elapsed >= (pieces - 1) * 0.1 * 0.95
        started = time.monotonic()
        assert get_page(client, "/tenants/acme/deals", limit=6).status_code == 200
        assert client.get("/_demo/faults").json()["drip"]["chunk_bytes"] == 64
        assert time.monotonic() - started < 0.5  # other resources and /_demo are not dripped
        bad = client.put("/_demo/faults", json={"drip": {"chunk_bytes": 0}})
        assert bad.status_code == 422


def test_drip_by_offset_with_a_huge_record(demo_source: DemoSourceServer) -> None:
    faults = demo_source.faults
    faults.drip = Drip(chunk_bytes=200_000, interval_ms=100, offset=0)
    faults.huge_record = HugeRecord("contacts", 1, 1_000_000)
    with httpx.Client(base_url=demo_source.url, timeout=0.5) as client:
        started = time.monotonic()
        response = get_page(client, limit=3)
        assert time.monotonic() - started >= 0.4  # five pieces, four pauses
        assert len(response.json()["items"][1]["blob"]) > 990_000
        started = time.monotonic()
        assert get_page(client, offset=1, limit=3).status_code == 200
        assert time.monotonic() - started < 0.4


def test_drip_stops_when_the_client_goes() -> None:
    server = DemoSourceServer(faults=DemoFaults(drip=Drip(64, 1_000))).start()
    with httpx.stream("GET", server.url + "/tenants/acme/contacts") as response:
        assert len(next(response.iter_raw())) == 64
    started = time.monotonic()
    server.stop()  # would wait for the dripping page otherwise
    assert time.monotonic() - started < 1.5


# -- RestSource against the demo source -----------------------------------------------------------


def read_by_chunks(
    source: RestSource, tenant: str, resource: str, chunk_size: int
) -> list[dict[str, object]]:
    total = source.count(tenant, resource)
    records: list[dict[str, object]] = []
    for window in plan_chunks([(resource, total)], chunk_size):
        for page in source.iter_pages(tenant, resource, window.offset, window.limit):
            records.extend(page)
    return records


@pytest.mark.parametrize(
    ("tenant", "resource"), [("acme", "contacts"), ("globex", "contacts"), ("initech", "deals")]
)
def test_rest_source_reads_everything_through_faults(
    demo_source: DemoSourceServer, tenant: str, resource: str
) -> None:
    faults = demo_source.faults
    faults.page_cap, faults.seed = 37, 11
    faults.rate_429, faults.retry_after = 0.1, 0.001
    faults.rate_5xx, faults.rate_drop = 0.1, 0.05
    with RestSource(demo_source.url, page_size=100, retry=FAST_RETRY) as source:
        records = read_by_chunks(source, tenant, resource, chunk_size=500)
        retries = source.stats.retries
    assert records == demo_source.store.records(tenant, resource)  # all, in order, no repeats
    stats = demo_source.stats
    if resource == "contacts" and tenant == "acme":
        assert stats.count(429) and stats.count("dropped") and retries > 0
        assert sum(stats.count(s) for s in (500, 502, 503, 504)) > 0


def test_rest_source_with_token_filter_and_errors(demo_source: DemoSourceServer) -> None:
    demo_source.faults.token = "demo-secret"
    with RestSource(demo_source.url, "demo-secret", retry=FAST_RETRY) as source:
        since = BASE_TIME.astimezone(timezone(timedelta(hours=9))) + timedelta(seconds=2_450)
        assert source.count("acme", "contacts", updated_since=since) == 50
        with pytest.raises(SourceNotFoundError):
            source.count("umbrella", "contacts")
    with RestSource(demo_source.url, "wrong", retry=FAST_RETRY) as source:
        with pytest.raises(SourceAuthError):
            source.count("acme", "contacts")
        assert source.stats.requests == 1


def test_malformed_page_fails_once_then_reads(demo_source: DemoSourceServer) -> None:
    demo_source.faults.malformed = [MalformedRule("deals", 100, times=1)]
    with RestSource(demo_source.url, retry=FAST_RETRY) as source:
        with pytest.raises(MalformedPageError, match="offset=100"):
            list(source.iter_pages("acme", "deals", 100, 100))
        pages = list(source.iter_pages("acme", "deals", 100, 100))  # the chunk's retry
    assert [r["id"] for r in pages[0]] == list(range(101, 201))


def test_unreachable_demo_source_names_the_fix() -> None:
    server = DemoSourceServer().start()
    url = server.url
    server.stop()
    with (
        RestSource(url, retry=RetryPolicy(attempts=2, base_delay=0.0)) as source,
        pytest.raises(TransientSourceError, match="jobsview demo-source"),
    ):
        source.count("acme", "contacts")


def test_a_large_collection_is_fast() -> None:
    store = DemoStore()
    store.add_tenant("big", {"contacts": 20_000})
    with DemoSourceServer(store) as server, RestSource(server.url) as source:
        started = time.monotonic()
        count = sum(len(p) for p in source.iter_pages("big", "contacts", 0, None))
        elapsed = time.monotonic() - started
    assert count == 20_000
    assert elapsed < 5.0  # ~0.5 s on a laptop; a delayed-ACK regression makes it ~10 s
