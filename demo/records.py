"""What a demo record looks like: its id and fields, derived from its key alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

IdStyle = Literal["int", "int-gaps", "str", "mixed"]
ID_STYLES: tuple[IdStyle, ...] = ("int", "int-gaps", "str", "mixed")
RecordId = str | int

# Base record n was last updated at BASE_TIME + n seconds, so base order == updated_at order.
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)

# Values that break naive escaping somewhere between JSON, SQL, HTML and a terminal.
NAMES = (
    "Ada Lovelace",
    "Zoë Ångström 東京 🚀",
    "Robert'); DROP TABLE records;--",
    '<script>alert("x")</script> & <b>',
    'O\'Brien "the quote" Smith',
    "Back\\slash \\n not a newline",
    "Tab\tSeparated\tName",
    "Line one\nLine two\r\nLine three",
    "Ünïcödé Ñandú Øresund",
    "مرحبا שלום Привет",
    "  padded name  ",
    "emoji 👩‍💻🏳️‍🌈 family 👨‍👩‍👧",
)
NOTES = (
    "plain note",
    '<script>alert("x")</script> & <b>bold</b> &amp; &lt;',
    "Robert'); DROP TABLE records;--",
    "quotes ' \" ` and backslashes \\ \\\\ end",
    "multi\nline\r\nnote\twith tabs",
    "Zoë Ångström 東京 🚀",
    "%s %d {} {0} ${HOME} $(whoami)",
    "",
    "null",
    "a" * 300,
    "\u200b zero-width and \u202e right-to-left override",
)


def record_id(id_style: IdStyle, resource: str, key: int) -> RecordId:
    if id_style == "int":
        return key + 1
    if id_style == "int-gaps":
        return key * 7 + 3
    if id_style == "mixed":  # 1, "1", 2, "2"...: distinct in JSON, equal as text
        return key // 2 + 1 if key % 2 == 0 else str(key // 2 + 1)
    if key % 97 == 41:  # a few non-ASCII string ids
        return f"ü-{key}"
    return f"{resource[0]}-{key:06d}"


def record(
    tenant: str,
    resource: str,
    id_style: IdStyle,
    key: int,
    touched: tuple[datetime, int] | None = None,
) -> dict[str, Any]:
    """The record with ``key``; ``touched`` is its (updated_at, revision) once changed."""
    if touched is None:
        updated_at = (BASE_TIME + timedelta(seconds=key)).strftime("%Y-%m-%dT%H:%M:%SZ")
        revision = 0
    else:
        updated_at, revision = touched[0].isoformat(), touched[1]
    note = NOTES[key % len(NOTES)]
    return {
        "id": record_id(id_style, resource, key),
        "updated_at": updated_at,
        "name": NAMES[(key + revision) % len(NAMES)],
        "email": f"user{key}+{resource}@{tenant}.example.com",
        "amount": ((key * 7919 + revision * 104_729) % 1_000_000) / 100,
        "note": f"{note} (edit {revision})" if revision else note,
    }
