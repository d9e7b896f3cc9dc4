from __future__ import annotations

import threading
import time

import httpx

from connectors.retry import RetryPolicy
from connectors.source import RestSource
from connectors.throttle import Throttle


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_pause_holds_every_caller_and_never_shrinks() -> None:
    clock = FakeClock()
    throttle = Throttle(clock=clock)
    assert throttle.remaining() == 0.0
    throttle.pause(5)
    throttle.pause(1)  # shorter: the longer pause stands
    assert throttle.remaining() == 5.0
    clock.sleep(5)
    assert throttle.remaining() == 0.0 and throttle.pauses == 2


def test_one_429_pauses_the_other_chunks_of_the_tenant() -> None:
    """Chunk A is told to back off; chunk B, on another thread, waits too before its request."""
    hit_429 = threading.Event()
    sent: dict[int, float] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        if offset == 0 and not hit_429.is_set():
            sent[-1] = time.monotonic()
            hit_429.set()
            return httpx.Response(429, headers={"Retry-After": "0.5"})
        sent.setdefault(offset, time.monotonic())
        return httpx.Response(200, json={"items": [], "total": 0})

    source = RestSource(
        "http://source.test",
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(attempts=3, base_delay=0.01, jitter=0.0),
    )

    def chunk_b() -> None:
        hit_429.wait()
        time.sleep(0.1)  # A has registered its pause by now
        list(source.iter_pages("acme", "contacts", 500, 10))

    thread = threading.Thread(target=chunk_b)
    thread.start()
    list(source.iter_pages("acme", "contacts", 0, 10))
    thread.join()
    assert sent[500] - sent[-1] >= 0.45  # B sat out A's Retry-After
    assert source._throttle("globex").remaining() == 0.0  # other tenants are not held
