"""``jobsview demo-source --malformed-at``: the malformed-page fault from the command line."""

from __future__ import annotations

from typing import Any

import pytest

import demo.source
from demo.faults import MalformedRule
from tests.views.conftest import invoke


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What the command would serve, without serving it."""
    seen: dict[str, Any] = {}
    monkeypatch.setattr(demo.source, "serve_forever", lambda **kw: seen.update(kw))
    return seen


def cli(*args: str) -> tuple[int, str, str]:
    """The command with the resources a rule without one applies to."""
    return invoke(args, env={"JOBSVIEW_RESOURCES": "contacts,deals"})


def test_malformed_pages_at_offsets(served: dict[str, Any]) -> None:
    code, _, err = cli("demo-source", "--malformed-at", "deals:400", "--malformed-at", "1200")
    assert code == 0, err
    assert served["faults"].malformed == [
        MalformedRule(resource="deals", offset=400),
        MalformedRule(resource="contacts", offset=1200),
        MalformedRule(resource="deals", offset=1200),
    ]
    assert served["faults"].take_malformed("acme", "deals", 400) == "not-json"
    assert served["faults"].take_malformed("acme", "deals", 500) is None


@pytest.mark.parametrize("spec", ["deals", "deals:-1", "Deals:4", "deals:x", ""])
def test_a_bad_spec_is_a_usage_error(served: dict[str, Any], spec: str) -> None:
    code, _, err = cli("demo-source", "--malformed-at", spec)
    assert code == 2 and "--malformed-at" in err and not served


def test_without_the_flag_no_page_is_malformed(served: dict[str, Any]) -> None:
    code, _, _ = cli("demo-source")
    assert code == 0 and served["faults"].malformed == []
