"""Checks for user input: tenant and resource names, sync types and sizes."""

from __future__ import annotations

import enum
import re

from chunking import SyncSize
from core.errors import InvalidInputError

TENANT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
RESOURCE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class SyncType(enum.StrEnum):
    FULL = "full"
    PARTIAL = "partial"


def validate_tenant(tenant: str) -> str:
    if not isinstance(tenant, str) or not TENANT_PATTERN.fullmatch(tenant):
        raise InvalidInputError(
            f"invalid tenant name {tenant!r}: use 1-63 characters of lowercase letters, "
            "digits, '-' and '_', starting with a letter or digit (e.g. 'acme')"
        )
    return tenant


def validate_resource(resource: str) -> str:
    if not RESOURCE_PATTERN.fullmatch(resource):
        raise InvalidInputError(
            f"invalid resource name {resource!r}: use lowercase letters, digits, '-' and '_' "
            "(e.g. 'contacts')"
        )
    return resource


def plain_message(msg: str) -> str:
    """A pydantic error message without the prefix pydantic puts on a validator's
    ``ValueError`` ("Value error, ..."), which means nothing to an operator."""
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _choices(enum_cls: type[enum.StrEnum]) -> str:
    return ", ".join(member.value for member in enum_cls)


def parse_sync_type(value: str | SyncType) -> SyncType:
    try:
        return SyncType(value)
    except ValueError:
        raise InvalidInputError(
            f"invalid sync type {value!r}: choose one of {_choices(SyncType)}"
        ) from None


def parse_sync_size(value: str | SyncSize) -> SyncSize:
    try:
        return SyncSize(value)
    except ValueError:
        raise InvalidInputError(
            f"invalid Sync Size {value!r}: choose one of {_choices(SyncSize)}"
        ) from None
