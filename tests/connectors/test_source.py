"""RestSource against httpx.MockTransport: paging, retries, fatal and malformed answers."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from pydantic import AnyHttpUrl, SecretStr

from connectors.retry import RetryPolicy
from connectors.source import RestSource
from connectors.window import WindowStats
from core.errors import (
    ConfigError,
    FatalSourceError,
    MalformedPageError,
    RecordTooLargeError,
    SourceAuthError,
    SourceError,
    SourceNotFoundError,
    StopRequested,
    TransientSourceError,
)
from core.settings import Settings
from demo.data import DemoStore
from demo.faults import DemoFaults
from demo.source import DemoSourceServer

BASE = "http://source.test/api"
TOKEN = "s3cr3t-T0KEN-do-not-leak"

Handler = Callable[[httpx.Request], httpx.Response]


class FakeSource:
    """Serves ``total`` records with ids 0..total-1, capped at ``cap`` per page; logs requests."""

    def __init__(self, total: int = 250, cap: int | None = None, ignore_limit: bool = False):
        self.records = [{"id": n, "updated_at": "2026-01-01T00:00:00Z"} for n in range(total)]
        self.cap, self.ignore_limit = cap, ignore_limit
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        offset = int(request.url.params["offset"])
        limit = 1_000 if self.ignore_limit else int(request.url.params["limit"])
        if self.cap:
            limit = min(limit, self.cap)
        items = self.records[offset : offset + limit]
        return httpx.Response(200, json={"items": items, "total": len(self.records)})

    def asked(self) -> list[tuple[int, int]]:
        return [(int(r.url.params["offset"]), int(r.url.params["limit"])) for r in self.requests]


def scripted(*steps: httpx.Response | Exception, then: Handler | None = None) -> Handler:
    """Answers with ``steps`` in order (raising exceptions), then delegates to ``then``."""
    queue: list[httpx.Response | Exception] = list(steps)
    fallback = then or FakeSource()

    def handler(request: httpx.Request) -> httpx.Response:
        if queue:
            step = queue.pop(0)
            if isinstance(step, Exception):
                raise step
            return step
        return fallback(request)

    return handler


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_source(sleeps: list[float]) -> Iterator[Callable[..., RestSource]]:
    made: list[RestSource] = []

    def make(handler: Handler, **kwargs: Any) -> RestSource:
        kwargs.setdefault(
            "retry", RetryPolicy(attempts=4, base_delay=0.01, jitter=0.0, sleep=sleeps.append)
        )
        source = RestSource(BASE, transport=httpx.MockTransport(handler), **kwargs)
        made.append(source)
        return source

    yield make
    for source in made:
        source.close()


def ids(pages: Iterator[list[dict[str, Any]]]) -> list[Any]:
    return [item["id"] for page in pages for item in page]


# -- paging -----------------------------------------------------------------------------------


def test_pages_advance_by_what_the_server_returned(make_source: Callable[..., RestSource]) -> None:
    fake = FakeSource(total=250, cap=30)
    source = make_source(fake, page_size=100)
    assert ids(source.iter_pages("acme", "contacts", 0, None)) == list(range(250))
    # each page after the first starts at the last record read, the anchor
    offsets = [offset for offset, _ in fake.asked()]
    assert offsets[:3] == [0, 29, 58] and offsets[-1] == 249  # the last sees only the anchor
    assert fake.asked()[:2] == [(0, 100), (29, 101)]


def test_window_is_exact_under_a_page_cap(make_source: Callable[..., RestSource]) -> None:
    fake = FakeSource(total=500, cap=30)
    source = make_source(fake, page_size=50)
    assert ids(source.iter_pages("acme", "contacts", 50, 120)) == list(range(50, 170))
    # never asks past the window, and stops without probing for an empty page
    assert fake.asked() == [(50, 50), (79, 51), (108, 51), (137, 33), (166, 4)]


def test_server_ignoring_limit_cannot_overfill_a_window(
    make_source: Callable[..., RestSource],
) -> None:
    source = make_source(FakeSource(total=500, ignore_limit=True), page_size=100)
    assert ids(source.iter_pages("acme", "contacts", 10, 25)) == list(range(10, 35))


def test_open_ended_window_reads_to_the_empty_page(make_source: Callable[..., RestSource]) -> None:
    fake = FakeSource(total=250)
    source = make_source(fake, page_size=100)
    assert ids(source.iter_pages("acme", "contacts", 200, None)) == list(range(200, 250))
    assert fake.asked() == [(200, 100), (249, 101)]


def test_empty_collection(make_source: Callable[..., RestSource]) -> None:
    fake = FakeSource(total=0)
    source = make_source(fake)
    assert list(source.iter_pages("globex", "deals", 0, None)) == []
    assert list(source.iter_pages("globex", "deals", 0, 0)) == []
    assert source.count("globex", "deals") == 0
    assert len(fake.requests) == 2


def test_a_chunk_past_the_end_of_an_over_counting_demo_source_ends() -> None:
    """Issue case 8: 250 records whose pages all say 2,500. The chunk at 300 looped on 249."""
    store = DemoStore()
    store.add_tenant("acme", {"contacts": 250})
    stats = WindowStats()
    with (
        DemoSourceServer(store, DemoFaults(lie_total=2_500)) as server,
        RestSource(server.url, page_size=100, margin=100) as source,
    ):
        records = ids(source.iter_pages("acme", "contacts", 300, 100, stats=stats))
        requests = source.stats.requests
    assert records == [r["id"] for r in store.records("acme", "contacts")[200:]]
    assert len(records) - stats.lead == 0  # all from the margin: none in the chunk's window
    assert requests <= 2


def test_bad_window_is_refused(make_source: Callable[..., RestSource]) -> None:
    source = make_source(FakeSource())
    with pytest.raises(ValueError):
        list(source.iter_pages("acme", "contacts", -1, None))


def test_count_asks_for_one_record(make_source: Callable[..., RestSource]) -> None:
    fake = FakeSource(total=1234)
    source = make_source(fake)
    assert source.count("acme", "contacts") == 1234
    (request,) = fake.requests
    assert request.url.path == "/api/tenants/acme/contacts"
    assert dict(request.url.params) == {"offset": "0", "limit": "1"}


@pytest.mark.parametrize(
    "since",
    [
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 1, 1),  # naive: taken as UTC
    ],
)
def test_updated_since_is_utc_iso_and_percent_encoded(
    make_source: Callable[..., RestSource], since: datetime
) -> None:
    fake = FakeSource(total=5)
    source = make_source(fake)
    source.count("acme", "contacts", updated_since=since)
    list(source.iter_pages("acme", "contacts", 0, None, updated_since=since))
    for request in fake.requests:
        assert request.url.params["updated_since"] == "2026-01-01T00:00:00+00:00"
        assert b"%2B00" in request.url.query  # a bare '+' would arrive as a space


def test_headers(make_source: Callable[..., RestSource]) -> None:
    fake = FakeSource(total=1)
    make_source(fake, token=TOKEN).count("acme", "contacts")
    make_source(fake).count("acme", "contacts")
    with_token, without = fake.requests
    assert with_token.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "Authorization" not in without.headers
    for request in fake.requests:
        assert request.headers["Accept"] == "application/json"
        assert request.headers["User-Agent"] == "jobsview/0.1"


def test_from_settings(make_source: Callable[..., RestSource]) -> None:
    settings = Settings(
        source_url=AnyHttpUrl(BASE + "/"), source_token=SecretStr(TOKEN), page_size=7
    )
    fake = FakeSource(total=20)
    source = RestSource.from_settings(settings, transport=httpx.MockTransport(fake))
    with source:
        assert source.base_url == BASE and source.page_size == 7
        assert len(ids(source.iter_pages("acme", "contacts", 0, 10))) == 10
    assert fake.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert fake.asked() == [(0, 7), (6, 4)]
    assert TOKEN not in repr(source) and "token=set" in repr(source)


# -- transient failures -------------------------------------------------------------------------


def test_429_honours_retry_after_seconds(
    make_source: Callable[..., RestSource], sleeps: list[float]
) -> None:
    source = make_source(scripted(httpx.Response(429, headers={"Retry-After": "3"})))
    assert source.count("acme", "contacts") == 250
    assert sleeps == [pytest.approx(3.0, abs=0.05)]
    assert (source.stats.requests, source.stats.retries) == (2, 1)


def test_429_honours_retry_after_http_date(
    make_source: Callable[..., RestSource], sleeps: list[float]
) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    source = make_source(scripted(httpx.Response(429, headers={"Retry-After": when})))
    assert source.count("acme", "contacts") == 250
    (slept,) = sleeps
    assert 15.0 <= slept <= 20.0


def test_5xx_back_off_exponentially_then_succeed(
    make_source: Callable[..., RestSource], sleeps: list[float]
) -> None:
    steps = [httpx.Response(status) for status in (500, 502, 503, 504)]
    source = make_source(scripted(*steps), retry=RetryPolicy(5, 0.01, 1.0, 0.0, sleeps.append))
    assert source.count("acme", "contacts") == 250
    assert sleeps == [0.01, 0.02, 0.04, 0.08]
    assert (source.stats.requests, source.stats.retries) == (5, 4)


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadTimeout("timed out"),
        httpx.ConnectTimeout("timed out"),
        httpx.RemoteProtocolError("peer closed connection without sending complete message"),
        httpx.ReadError("connection reset by peer"),
        httpx.ConnectError("[Errno 111] Connection refused"),
    ],
)
def test_timeouts_and_dropped_connections_are_retried(
    make_source: Callable[..., RestSource], sleeps: list[float], error: Exception
) -> None:
    source = make_source(scripted(error, error))
    assert ids(source.iter_pages("acme", "contacts", 0, 5)) == [0, 1, 2, 3, 4]
    assert len(sleeps) == 2


def test_retries_are_per_page_and_pages_are_not_repeated(
    make_source: Callable[..., RestSource],
) -> None:
    fake = FakeSource(total=90, cap=30)
    failures: Iterator[httpx.Response | Exception] = iter(
        [httpx.Response(503), httpx.ReadTimeout("slow")]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params["offset"] == "29" and (step := next(failures, None)) is not None:
            if isinstance(step, Exception):
                raise step
            return step
        return fake(request)

    source = make_source(handler)
    assert ids(source.iter_pages("acme", "contacts", 0, None)) == list(range(90))
    assert [offset for offset, _ in fake.asked()] == [0, 29, 58, 87, 89]


def test_exhausted_retries_raise_transient_error_with_context(
    make_source: Callable[..., RestSource], sleeps: list[float]
) -> None:
    fake = FakeSource()

    def handler(request: httpx.Request) -> httpx.Response:
        fake.requests.append(request)
        return httpx.Response(503, headers={"Retry-After": "2"}, text="down for maintenance")

    source = make_source(handler)
    with pytest.raises(TransientSourceError) as info:
        list(source.iter_pages("acme", "deals", 300, 100))
    err = info.value
    assert (err.tenant, err.resource, err.offset, err.status_code) == ("acme", "deals", 300, 503)
    assert err.retry_after == 2.0 and err.retryable
    assert "after 4 attempts" in str(err) and "offset=300" in str(err)
    assert "down for maintenance" in str(err)
    assert len(fake.requests) == 4 and len(sleeps) == 3


def test_refused_connection_says_how_to_fix_it(make_source: Callable[..., RestSource]) -> None:
    source = make_source(scripted(*[httpx.ConnectError("[Errno 111] Connection refused")] * 4))
    with pytest.raises(TransientSourceError) as info:
        source.count("acme", "contacts")
    message = str(info.value)
    assert f"cannot reach the source at {BASE}" in message
    assert "JOBSVIEW_SOURCE_URL" in message and "jobsview demo-source" in message
    assert isinstance(info.value.__cause__, httpx.ConnectError)


def test_refused_connection_for_real() -> None:
    # Port 9 (discard) on loopback is closed in any sane test environment.
    policy = RetryPolicy(attempts=2, base_delay=0.0, jitter=0.0)
    with RestSource("http://127.0.0.1:9", retry=policy) as source:
        with pytest.raises(TransientSourceError, match="cannot reach the source"):
            source.count("acme", "contacts")
        assert source.stats.requests == 2


# -- fatal answers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type", "words"),
    [
        (401, SourceAuthError, "JOBSVIEW_SOURCE_TOKEN"),
        (403, SourceAuthError, "authentication failed"),
        (404, SourceNotFoundError, "unknown tenant or resource"),
        (400, FatalSourceError, "rejected"),
        (422, FatalSourceError, "limit must be at most 10000"),
        (409, FatalSourceError, "rejected"),
        (501, FatalSourceError, "rejected"),
        (302, FatalSourceError, "redirected to https://elsewhere.test/"),
    ],
)
def test_fatal_statuses_fail_after_one_request(
    make_source: Callable[..., RestSource],
    sleeps: list[float],
    status: int,
    error_type: type[SourceError],
    words: str,
) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        headers = {"Location": "https://elsewhere.test/"} if status == 302 else {}
        return httpx.Response(
            status, headers=headers, json={"detail": "limit must be at most 10000"}
        )

    source = make_source(handler, token=TOKEN)
    with pytest.raises(error_type) as info:
        list(source.iter_pages("acme", "contacts", 500, 100))
    err = info.value
    assert type(err) is error_type and not err.retryable
    assert words in str(err)
    assert (err.resource, err.offset, err.status_code) == ("contacts", 500, status)
    assert len(calls) == 1 and sleeps == []


def test_auth_error_without_a_token_says_to_set_one(make_source: Callable[..., RestSource]) -> None:
    source = make_source(lambda request: httpx.Response(401))
    with pytest.raises(SourceAuthError, match="set JOBSVIEW_SOURCE_TOKEN"):
        source.count("acme", "contacts")


def test_error_body_excerpt_is_short(make_source: Callable[..., RestSource]) -> None:
    source = make_source(lambda request: httpx.Response(400, text="x" * 5_000))
    with pytest.raises(FatalSourceError) as info:
        source.count("acme", "contacts")
    assert len(str(info.value)) < 400


def test_unsupported_scheme_is_fatal() -> None:
    with RestSource("ftp://source.test") as source, pytest.raises(FatalSourceError):
        source.count("acme", "contacts")


# -- malformed pages ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>Bad Gateway</body></html>",
        b'{"items": [',
        b"\xff\xfe not utf-8",
        b"[1, 2, 3]",
        b'{"total": 3}',
        b'{"items": {"id": 1}, "total": 1}',
        b'{"items": []}',
        b'{"items": [], "total": "3"}',
        b'{"items": [], "total": true}',
        b'{"items": [1], "total": 1}',
        b'{"items": [{"name": "no id"}], "total": 1}',
        b'{"items": [{"id": null}], "total": 1}',
        b'{"items": [{"id": 1.5}], "total": 1}',
    ],
)
def test_malformed_pages_fail_at_once_naming_resource_and_offset(
    make_source: Callable[..., RestSource], sleeps: list[float], body: bytes
) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, content=body)

    source = make_source(handler)
    with pytest.raises(MalformedPageError) as info:
        list(source.iter_pages("acme", "deals", 300, None))
    message = str(info.value)
    assert "resource=deals" in message and "offset=300" in message
    assert (info.value.resource, info.value.offset) == ("deals", 300)
    assert info.value.retryable  # for the chunk's retries, not the client's
    assert len(calls) == 1 and sleeps == []


def test_string_and_integer_ids_are_both_fine(make_source: Callable[..., RestSource]) -> None:
    items = [{"id": 1}, {"id": "ü-7"}, {"id": ""}]
    source = make_source(lambda r: httpx.Response(200, json={"items": items, "total": 3}))
    assert next(source.iter_pages("acme", "deals", 0, 3)) == items


# -- secrets and stopping -----------------------------------------------------------------------


def echo_auth(status: int) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        echoed = request.headers.get("Authorization", "")
        if status == 200:
            return httpx.Response(200, text=f"<html>{echoed}</html>")
        return httpx.Response(status, text=json.dumps({"detail": f"bad header {echoed}"}))

    return handler


@pytest.mark.parametrize("status", [200, 400, 401, 404, 422, 503])
def test_the_token_never_appears_in_errors_or_logs(
    make_source: Callable[..., RestSource], caplog: pytest.LogCaptureFixture, status: int
) -> None:
    caplog.set_level(logging.DEBUG)
    source = make_source(echo_auth(status), token=TOKEN)
    with pytest.raises(SourceError) as info:
        source.count("acme", "contacts")
    shown = [str(info.value), repr(info.value), repr(source), caplog.text]
    assert all(TOKEN not in text for text in shown)
    assert "***" in str(info.value)  # the echoed token was scrubbed, not just absent


def test_transport_error_messages_are_scrubbed(make_source: Callable[..., RestSource]) -> None:
    source = make_source(scripted(*[httpx.ReadError(f"boom {TOKEN}")] * 4), token=TOKEN)
    with pytest.raises(TransientSourceError) as info:
        source.count("acme", "contacts")
    assert TOKEN not in str(info.value)


def test_a_token_unfit_for_a_header_is_refused_without_quoting_it() -> None:
    with pytest.raises(ConfigError) as info:
        RestSource(BASE, token="päss word")
    assert "päss" not in str(info.value)


def test_should_stop_is_checked_before_each_request(make_source: Callable[..., RestSource]) -> None:
    fake = FakeSource(total=250)
    source = make_source(fake, page_size=100)
    pages = source.iter_pages(
        "acme", "contacts", 0, None, should_stop=lambda: len(fake.requests) >= 1
    )
    assert len(next(pages)) == 100
    with pytest.raises(StopRequested, match="offset 99"):
        next(pages)
    assert len(fake.requests) == 1


def test_should_stop_interrupts_retries(make_source: Callable[..., RestSource]) -> None:
    stop = False

    def sleep(seconds: float) -> None:
        nonlocal stop
        stop = True

    retry = RetryPolicy(attempts=5, base_delay=0.01, sleep=sleep)
    source = make_source(lambda r: httpx.Response(503), retry=retry)
    with pytest.raises(StopRequested):
        list(source.iter_pages("acme", "contacts", 0, None, should_stop=lambda: stop))
    assert source.stats.requests == 1


def test_hooks_hear_every_try_and_every_429(
    make_source: Callable[..., RestSource], sleeps: list[float]
) -> None:
    calls: list[tuple[str, Any]] = []
    steps = (
        httpx.Response(429, headers={"Retry-After": "2"}),
        httpx.Response(429),
        httpx.Response(503, headers={"Retry-After": "1"}),  # not a 429: the hook stays quiet
    )
    source = make_source(
        scripted(*steps),
        before_request=lambda tenant: calls.append(("before", tenant)),
        on_throttled=lambda tenant, retry_after: calls.append(("429", (tenant, retry_after))),
    )
    assert source.count("acme", "contacts") == 250
    assert calls == [
        ("before", "acme"),
        ("429", ("acme", 2.0)),
        ("before", "acme"),
        ("429", ("acme", None)),
        ("before", "acme"),
        ("before", "acme"),
    ]
    assert sleeps[0] == pytest.approx(2.0, abs=0.05)  # the local throttle still pauses this process


# -- bounds: record size, dripping answers, stops ----------------------------------------------


class Drip(httpx.SyncByteStream):
    """A body that arrives a few bytes at a time and never finishes in time."""

    def __init__(self, every: float = 0.05, pieces: int = 10_000) -> None:
        self.every, self.pieces = every, pieces
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        yield b'{"items": ['
        for _ in range(self.pieces):
            time.sleep(self.every)
            self.sent += 1
            yield b" "


def records_of(size: int, total: int = 40) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        items = [{"id": n, "blob": "x" * size} for n in range(offset, min(offset + limit, total))]
        return httpx.Response(200, json={"items": items, "total": total})

    return handler


def test_a_page_too_big_for_memory_is_asked_for_in_halves(
    make_source: Callable[..., RestSource],
) -> None:
    asked: list[int] = []
    handler = records_of(300)

    def logging_handler(request: httpx.Request) -> httpx.Response:
        asked.append(int(request.url.params["limit"]))
        return handler(request)

    source = make_source(logging_handler, page_size=20, max_record_bytes=1_000)
    assert ids(source.iter_pages("acme", "contacts", 0, None)) == list(range(40))
    assert asked[:3] == [20, 10, 5]  # 20 records of ~320 bytes passed 2,000 bytes


def test_a_record_over_the_limit_fails_its_chunk(make_source: Callable[..., RestSource]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        items = [{"id": n, "blob": "x" * (1_500 if n == 7 else 10)} for n in range(offset, 40)]
        return httpx.Response(200, json={"items": items[:limit], "total": 40})

    source = make_source(handler, page_size=20, max_record_bytes=1_000)
    with pytest.raises(RecordTooLargeError, match=r"record 7 is 1,5[0-9]{2} bytes") as info:
        list(source.iter_pages("acme", "contacts", 0, None))
    assert info.value.offset == 7 and not info.value.retryable


def test_a_huge_record_is_never_read_whole(make_source: Callable[..., RestSource]) -> None:
    source = make_source(records_of(50_000_000, total=3), page_size=5, max_record_bytes=1_000)
    started = time.monotonic()
    with pytest.raises(RecordTooLargeError, match="offset 0 or 1 is over"):
        list(source.iter_pages("acme", "contacts", 0, None))
    assert time.monotonic() - started < 5


def seconds_to_stop(source: RestSource, match: str, stop_after: float = 0.3) -> float:
    """Read a window that is asked to stop after ``stop_after`` s; how long the stop took."""
    started = time.monotonic()
    with pytest.raises(StopRequested, match=match):
        list(
            source.iter_pages(
                "acme",
                "contacts",
                0,
                None,
                should_stop=lambda: time.monotonic() > started + stop_after,
            )
        )
    return time.monotonic() - started - stop_after


def test_a_stop_ends_a_dripping_request_at_once(make_source: Callable[..., RestSource]) -> None:
    drip = Drip()
    source = make_source(lambda r: httpx.Response(200, stream=drip))
    assert seconds_to_stop(source, "while reading contacts") < 1
    sent = drip.sent
    time.sleep(0.3)
    assert drip.sent <= sent + 1  # the abandoned request stopped reading too


def test_a_request_has_a_total_deadline(make_source: Callable[..., RestSource]) -> None:
    source = make_source(lambda r: httpx.Response(200, stream=Drip()), timeout=0.1)
    with pytest.raises(TransientSourceError, match=r"no complete answer within 0\.4s"):
        source.count("acme", "contacts")
    assert source.stats.requests == 4


def test_a_stop_ends_a_long_retry_after(make_source: Callable[..., RestSource]) -> None:
    source = make_source(
        scripted(httpx.Response(429, headers={"Retry-After": "300"})),
        retry=RetryPolicy(attempts=3),
    )
    assert seconds_to_stop(source, "while waiting") < 1


def test_credentials_in_the_url_beside_a_token_are_refused() -> None:
    with pytest.raises(ConfigError, match="user name or password") as info:
        RestSource("http://user:hunter2@source.test", token=TOKEN)
    assert "hunter2" not in str(info.value)


def test_a_stop_ends_a_wait_for_a_shared_rate_limit_slot(
    make_source: Callable[..., RestSource],
) -> None:
    released = threading.Event()
    source = make_source(FakeSource(), before_request=lambda tenant: released.wait(30))
    assert seconds_to_stop(source, "waiting for a rate-limit slot") < 1
    released.set()
