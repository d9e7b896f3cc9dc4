"""Fuzzing the web app: no input, however odd, makes it answer 5xx.

schemathesis generates requests from the JSON API's OpenAPI; a small Hypothesis test covers
the pages and form posts, which are not in the OpenAPI. SQLite only, a FakeLauncher, and a
fixed number of deterministic examples so the file stays well under a minute.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from core.db import get_engine
from core.settings import load_settings
from tests.views.web.conftest import BASE_URL, csrf, make_app

# The schema is read from an app at import; each test gives that app a ledger of its own.
FIRST = load_settings(database_url="sqlite://")
app = make_app(FIRST)
schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers={"Host": "127.0.0.1"})

# WEB_FUZZ_EXAMPLES=500 WEB_FUZZ_RANDOM=1 for a deeper, randomised search by hand.
FUZZ = settings(
    max_examples=int(os.environ.get("WEB_FUZZ_EXAMPLES", "25")),
    derandomize=not os.environ.get("WEB_FUZZ_RANDOM"),
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(autouse=True)
def _sqlite_ledger(tmp_path: Path) -> Iterator[None]:
    """The app's settings, kept where ``create_app`` keeps them, name this test's ledger."""
    url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    app.state.settings = load_settings(database_url=url)
    try:
        yield
    finally:
        app.state.settings = FIRST
        get_engine(url).dispose()


@schema.parametrize()
@FUZZ
def test_the_api_never_answers_5xx(case: schemathesis.Case) -> None:
    # schemathesis names its ASGI host "testserver", which the web refuses (400) unless allowed
    case.call_and_validate(headers={"Host": "127.0.0.1"}, checks=[not_a_server_error])


# -- the pages and forms, which the OpenAPI leaves out ------------------------

odd_text = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "acme",
            "deadbeef",
            "../../etc/passwd",
            "<script>alert(1)</script>",
            "%00",
            "acme\n",
            "a" * 70,
            "*",
            "ünïcødé",
            "0000-",
            "----",
            "1; DROP TABLE jobs",
        ]
    ),
)


@pytest.fixture
def page_client() -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        yield client


@FUZZ
@given(
    path=st.sampled_from(["/", "/fragments/jobs", "/jobs/{}", "/fragments/jobs/{}", "/settings"]),
    ref=odd_text,
    query=st.dictionaries(
        st.sampled_from(["tenant", "status", "since", "page", "failed", "saved"]),
        odd_text,
        max_size=4,
    ),
)
def test_pages_never_answer_5xx(
    page_client: TestClient, path: str, ref: str, query: dict[str, str]
) -> None:
    url = path.format(quote(ref, safe="")) if "{}" in path else path
    answer = page_client.get(url, params=query)
    assert answer.status_code < 500, (url, query, answer.text[:500])


@FUZZ
@given(
    path=st.sampled_from(["/jobs", "/jobs/{}/cancel", "/jobs/{}/resume", "/settings"]),
    ref=odd_text,
    form=st.dictionaries(
        st.sampled_from(["tenant", "sync_type", "sync_size", "token"]), odd_text, max_size=4
    ),
    raw=st.one_of(st.none(), st.binary(max_size=200)),
    with_csrf=st.booleans(),
)
def test_form_posts_never_answer_5xx(
    page_client: TestClient,
    path: str,
    ref: str,
    form: dict[str, str],
    raw: bytes | None,
    with_csrf: bool,
) -> None:
    url = path.format(quote(ref, safe="")) if "{}" in path else path
    if with_csrf:  # reach the handlers, not only the CSRF check
        form = {**form, "csrf_token": csrf(page_client)}
    if raw is None:
        answer = page_client.post(url, data=form, follow_redirects=False)
    else:
        answer = page_client.post(
            url,
            content=raw,
            headers={"content-type": "application/x-www-form-urlencoded"},
            follow_redirects=False,
        )
    assert answer.status_code < 500, (url, form, raw, answer.text[:500])
