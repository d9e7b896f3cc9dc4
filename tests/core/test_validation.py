from __future__ import annotations

import pytest

from chunking import SyncSize
from core import InvalidInputError, SyncType, parse_sync_size, parse_sync_type, validate_tenant


@pytest.mark.parametrize("name", ["acme", "a", "0day", "tenant_1-x", "a" * 63])
def test_valid_tenants(name: str) -> None:
    assert validate_tenant(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Acme",
        "-acme",
        "_acme",
        "a" * 64,
        "acme corp",
        "acme/../x",
        "acme;drop",
        "ac\nme",
        "<script>",
        "ümlaut",
        "acme\x00",
    ],
)
def test_invalid_tenants_are_refused_with_the_rule(name: str) -> None:
    with pytest.raises(InvalidInputError, match="lowercase letters"):
        validate_tenant(name)


def test_sync_type_and_size_name_the_choices() -> None:
    assert parse_sync_type("partial") is SyncType.PARTIAL
    assert parse_sync_size("xlarge") is SyncSize.XLARGE
    with pytest.raises(InvalidInputError, match="full, partial"):
        parse_sync_type("delta")
    with pytest.raises(InvalidInputError, match="small, medium, large, xlarge"):
        parse_sync_size("huge")


def test_pydantic_prefixes_are_dropped_from_messages() -> None:
    from core.validation import plain_message

    assert plain_message("Value error, 'weird' is not one of a, b") == "'weird' is not one of a, b"
    assert plain_message("Assertion failed, x") == "x"
    assert plain_message("Input should be 'a' or 'b'") == "Input should be 'a' or 'b'"
