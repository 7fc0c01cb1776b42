"""What CRM text the warehouse cannot store: lone surrogates, NUL and ids too long for an index."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Zoho ids are 19 digits; an id is a key in btree indexes, whose rows PostgreSQL caps at about
# 2,700 bytes, so a longer one would fail the whole load instead of its record.
MAX_ID_LENGTH = 100
# Reasons quote a value clipped to this many characters.
MAX_QUOTED_CHARS = 60

# UTF-8 (SQLite, psycopg's COPY) cannot carry a lone surrogate, and PostgreSQL text refuses NUL.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# The client decodes invalid UTF-8 bytes 0x80-0xFF as U+DC80-U+DCFF (surrogateescape).
_ESCAPED_BYTES = range(0xDC80, 0xDD00)


def text_problem(text: str) -> str | None:
    """Why the warehouse cannot store ``text`` ("contains an unpaired surrogate U+D800"), or None."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    code = ord(found.group())
    if code == 0:
        return "contains a NUL character (U+0000), which PostgreSQL text cannot store"
    if code in _ESCAPED_BYTES:
        return (
            f"contains an unpaired surrogate U+{code:04X} (the invalid UTF-8 byte "
            f"0x{code - 0xDC00:02X} in the CRM response, or a \\u{code:04x} escape)"
        )
    return f"contains an unpaired surrogate U+{code:04X}"


def any_problem(texts: Iterable[str]) -> bool:
    """Whether any of ``texts`` holds what text_problem finds: C-speed checks of their join (a
    regex scan costs more), so a clean column of 100,000 values costs a few milliseconds."""
    joined = "".join(texts)
    if "\x00" in joined:
        return True
    if joined.isascii():  # known without a scan: no surrogate
        return False
    try:
        joined.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def id_problem(text: str) -> str | None:
    """Why ``text`` cannot be a CRM id in the warehouse, or None."""
    problem = text_problem(text)
    if problem is None and len(text) > MAX_ID_LENGTH:
        problem = f"is {len(text):,} characters long, more than the {MAX_ID_LENGTH:,} allowed"
    return problem


def quoted(text: str) -> str:
    """``text`` for a reason or a key column: clipped, with what cannot be stored escaped."""
    clipped = text[:MAX_QUOTED_CHARS] + ("…" if len(text) > MAX_QUOTED_CHARS else "")
    return _UNSTORABLE.sub(lambda found: f"\\u{ord(found.group()):04x}", clipped)
