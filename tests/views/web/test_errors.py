"""Bad input on the pages is said in words, without pydantic's "Value error," prefix."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.support import SyncEnv


@pytest.mark.parametrize(
    ("path", "said"),
    [
        (
            "/?status=weird",
            "invalid request: status: Input should be &#39;queued&#39;, &#39;running&#39;",
        ),
        ("/?since=3y", "invalid request: since: String should match pattern"),
        ("/jobs/abc?page=0", "invalid request: page: Input should be greater than or equal to 1"),
    ],
)
def test_a_page_says_what_was_wrong(
    sync_env: SyncEnv, client: TestClient, path: str, said: str
) -> None:
    answer = client.get(path)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "<h1>Error 422</h1>" in answer.text and said in answer.text
    assert "Value error" not in answer.text


def test_the_api_keeps_its_list_of_errors(sync_env: SyncEnv, client: TestClient) -> None:
    answer = client.get("/api/jobs", params={"status": "weird"})
    assert answer.status_code == 422
    (error,) = answer.json()["detail"]
    assert error["loc"] == ["query", "status"] and error["type"] == "enum"
    assert error["msg"].startswith("Input should be 'queued'")
