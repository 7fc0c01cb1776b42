"""The messy-data rules: company names, people and phone numbers, as people type them."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from zoho_sandbox.generator.pools import (
    ASCII_FOLD,
    BRANCHES,
    DOMAINS,
    FIRST,
    HOSTILE,
    INVALID_EMAILS,
    LAST,
    LEGAL,
    SYL_A,
    SYL_B,
    SYL_C,
    TRADES,
    UNICODE_PREFIX,
)

if TYPE_CHECKING:
    from zoho_sandbox.generator.core import Generator

# Rates, of each module and approximately: accounts 4% near-duplicates of an earlier account
# (case, spacing, punctuation, legal suffix), 4% unicode names (Arabic, Hebrew, CJK, combining
# accents, emoji), 1.5% hostile names (quotes, semicolons, SQL, markup, > 255 chars), 3% padded
# with whitespace; contacts 3% sharing an email with another contact, 3% invalid emails, 3%
# missing last names, 4% without an email, mixed-case emails.
COMBOS = len(SYL_A) * len(SYL_B) * len(SYL_C) * len(TRADES)
# every stem, indexed like name_parts' mixed-radix digits (a, b, c): one lookup per name
_STEMS = tuple(a + b + c for a in SYL_A for b in SYL_B for c in SYL_C)
_PERM = 7919  # coprime with COMBOS, so base names are unique within one cycle
PHONES = 5 * 9_000_000_000  # phone_number() takes numbers below this


class Person(NamedTuple):
    """A contact's name and email (a tuple: built for every contact and deal served)."""

    first: str
    last: str | None
    email: str | None


def name_parts(seed: int, i: int) -> tuple[str, str]:
    """Unique base name and a trade word for account i."""
    k, t = divmod((i * _PERM + seed) % COMBOS, len(TRADES))
    cycle = i // COMBOS
    if not cycle:
        return _STEMS[k], TRADES[t]
    branch = BRANCHES[cycle % len(BRANCHES)] + (f" {cycle}" if cycle >= len(BRANCHES) else "")
    return _STEMS[k], TRADES[t] + branch


def account_name(gen: Generator, i: int) -> str:
    """The name of account i, messy at the rates above."""
    h = gen.hash(1, i)
    roll = h % 1000
    if roll < 40 and i > 0:
        j = i - 1 - (h >> 10) % min(i, 50)
        return _variant(clean_account_name(gen, j), h >> 20)
    if roll < 80:
        stem, _trade = name_parts(gen.seed, i)
        return f"{UNICODE_PREFIX[(h >> 10) % len(UNICODE_PREFIX)]} {stem}"
    if roll < 95:
        return HOSTILE[(h >> 10) % len(HOSTILE)]
    if roll < 98:
        return _long_string(h >> 10)
    name = clean_account_name(gen, i)
    if roll < 128:
        return f"  {name} " if roll % 2 else f"{name}\t"
    return name


def clean_account_name(gen: Generator, i: int) -> str:
    """Account i's name as it was meant to be typed: stem, trade and perhaps a legal suffix."""
    h = gen.hash(2, i)
    stem, trade = name_parts(gen.seed, i)
    name = f"{stem} {trade}"
    if h % 3 == 0:
        name += " " + LEGAL[(h >> 4) % len(LEGAL)]
    return name


def person(gen: Generator, i: int) -> Person:
    """Name and email of contact i (emails of other contacts are reused from here)."""
    h = gen.hash(3, i)
    first = FIRST[h % len(FIRST)]
    last: str | None = LAST[(h >> 8) % len(LAST)]
    roll = (h >> 16) % 1000
    if roll < 30:
        last = None if roll % 2 else ""
    email: str | None
    if 30 <= roll < 60 and i > 0:
        email = person(gen, i - 1 - (h >> 26) % min(i, 20)).email  # shared email
    elif 60 <= roll < 90:
        email = INVALID_EMAILS[(h >> 26) % len(INVALID_EMAILS)]
    elif 90 <= roll < 130:
        email = None if roll % 2 else ""
    else:
        local = _ascii(first) + "." + _ascii(last or "x") + str((h >> 26) % 1000)
        email = f"{local}@{DOMAINS[(h >> 40) % len(DOMAINS)]}"
        if roll % 10 == 0:
            email = email.title()  # mixed case, as typed
    return Person(first, last, email)


def phone_number(n: int) -> str:
    """A phone number as people type them, from a number below PHONES."""
    style, n = n % 5, n // 5 % 9_000_000_000 + 1_000_000_000
    digits = str(n)
    if style == 0:
        return f"+91 {digits[:5]} {digits[5:]}"
    if style == 1:
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    if style == 2:
        return f"+1-{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    if style == 3:
        return digits
    return f" {digits[:4]} {digits[4:]} ext. {10 + n % 90}"


def _variant(name: str, h: int) -> str:
    """A near-duplicate of a company name, as people type them."""
    kind = h % 6
    if kind == 0:
        return name.upper()
    if kind == 1:
        return name.lower()
    if kind == 2:
        return "  " + name.replace(" ", "  ") + " "
    if kind == 3:
        return name + ", " + LEGAL[(h >> 8) % len(LEGAL)]
    if kind == 4:
        return name.replace(" ", ".") + "."
    return name + " " + LEGAL[(h >> 8) % len(LEGAL)]


def _long_string(h: int) -> str:
    return ("Very long name " + "x" * 20 + " ") * (10 + h % 5)  # always > 255 characters


@lru_cache(maxsize=1024)
def _ascii(s: str) -> str:
    """An email-safe local part for a name ("user" when nothing ASCII is left)."""
    out = "".join(ASCII_FOLD.get(ch, ch) for ch in s.lower() if ch.isascii() or ch in ASCII_FOLD)
    return out.replace("'", "").replace(" ", "") or "user"
