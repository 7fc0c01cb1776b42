"""Likely-duplicate customers (DESIGN.md B6): match keys and the groups that share one; nothing is merged."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

GROUP_COLUMNS: tuple[str, ...] = ("group_key", "customer_id", "match_reason")

LEGAL_SUFFIXES: tuple[str, ...] = (
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "llc",
    "ltd",
    "limited",
    "gmbh",
    "ag",
    "sa",
    "srl",
    "bv",
    "nv",
    "plc",
    "pty",
    "pvt",
    "llp",
    "lp",
    "oy",
    "ab",
    "as",
    "kk",
)

# Mail providers, site builders and social networks: sharing one says nothing about the company.
GENERIC_DOMAINS: frozenset[str] = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "google.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.co.in",
        "ymail.com",
        "hotmail.com",
        "hotmail.co.uk",
        "outlook.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "protonmail.com",
        "proton.me",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.com",
        "mail.ru",
        "yandex.ru",
        "yandex.com",
        "qq.com",
        "163.com",
        "126.com",
        "rediffmail.com",
        "zoho.com",
        "zohomail.com",
        "example.com",
        "example.org",
        "example.net",
        "facebook.com",
        "instagram.com",
        "linkedin.com",
        "twitter.com",
        "x.com",
        "youtube.com",
        "wix.com",
        "wixsite.com",
        "wordpress.com",
        "blogspot.com",
        "squarespace.com",
        "godaddysites.com",
        "sites.google.com",
        "github.io",
    }
)

_SUFFIXES = frozenset(LEGAL_SUFFIXES)
# Only the Latin/Greek/Cyrillic diacritics block: marks in other scripts carry meaning.
_DIACRITICS = re.compile(r"[\u0300-\u036f]")
_ASCII_PUNCT = re.compile(r"[^a-z0-9\s]")
_PHONE_EXTENSION = re.compile(r"(?:ext\.?|extension|x|#)\s*\d+\s*$", re.IGNORECASE)
_NON_DIGIT = re.compile(r"[^0-9]")
# Optional scheme://, optional user@, optional www.; the host runs to a port, path or query.
_URL = re.compile(r"(?:(?:[a-z][a-z0-9+.\-]*:)?//)?(?:[^@/?#\\\s]*@)?(?:www\d*\.)?([^/?#\\\s:]*)")
# Dot-separated labels; the last (the TLD) has a letter, so IP addresses and "n/a" are junk.
_DOMAIN = re.compile(r"(?:[^\W_](?:[\w-]*[^\W_])?\.)+(?=[\w-]*[^\W\d_])[^\W_][\w-]*[^\W_]")


class _PunctuationTable(dict[int, Any]):
    """str.translate table, filled on demand: punctuation and symbols become spaces.

    Dots and apostrophes are dropped instead, so "L.L.C." reads "llc" and "O'Brien" "obrien".
    """

    def __missing__(self, code: int) -> Any:
        char = chr(code)
        if char in ".'\u2019":
            value: Any = None
        elif unicodedata.category(char)[0] in "PSZC":
            value = " "
        else:
            value = code
        self[code] = value
        return value


_PUNCTUATION = _PunctuationTable()

# Maps a list of distinct strings to their match keys (None: no key).
KeysOf = Callable[[list[str]], list[str | None]]

# The same folding for ASCII text, as one C-level bytes.translate: in ASCII every character other
# than a letter or digit is punctuation, a symbol, a space or a control character.
_ASCII_KEPT = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789")
_ASCII_SPACES = bytes(c if c in _ASCII_KEPT else 0x20 for c in range(256))
_ASCII_DROPPED = b".'"
_BYTE_SUFFIXES = frozenset(s.encode("ascii") for s in LEGAL_SUFFIXES)
# Phones are joined, UTF-8 encoded, with byte 0xFF (which UTF-8 never uses) between them, and
# their digits kept by one bytes.translate.
_NOT_DIGITS_SEPARATED = bytes(c for c in range(255) if not 0x30 <= c <= 0x39)


def normalize_company_name(names: pd.Series) -> pd.Series:
    """Matching key of a company name: case, accents, punctuation, spacing and legal suffixes folded.

    "Acme Corp", "ACME Corporation", "Acme, Inc." and " acme co. " all become "acme".
    """
    return _map_unique(names, _company_keys)


def _company_keys(names: list[str]) -> list[str | None]:
    return [_company_key(name) for name in names]


def _company_key(name: str) -> str | None:
    key = name.casefold()
    if key.isascii():  # nearly every name: the bytes path is several times faster
        words: list[Any] = key.encode("ascii").translate(_ASCII_SPACES, _ASCII_DROPPED).split()
        suffixes: frozenset[Any] = _BYTE_SUFFIXES
    else:
        key = unicodedata.normalize("NFC", _DIACRITICS.sub("", unicodedata.normalize("NFKD", key)))
        words = key.translate(_PUNCTUATION).split()
        suffixes = _SUFFIXES
    kept = len(words)
    while kept and words[kept - 1] in suffixes:
        kept -= 1
    # A name that is nothing but suffixes ("Company", "Co Ltd") keeps them rather than vanish.
    if not words:
        return None
    kept_words = words[:kept] if kept else words
    if isinstance(words[0], bytes):
        return b" ".join(kept_words).decode("ascii")
    return " ".join(kept_words)


def normalize_phone(phones: pd.Series) -> pd.Series:
    """Matching key of a phone number: its last 10 digits (None with fewer than 7 digits)."""
    return _map_unique(phones, _phone_keys)


def _phone_keys(phones: list[str]) -> list[str | None]:
    """Phone keys of many numbers: extensions cut one by one (few have one), then the digits of
    all of them kept by one bytes.translate."""
    # Only an "x", "X" or "#" can start an extension.
    cut = [_PHONE_EXTENSION.sub("", p) if ("x" in p or "X" in p or "#" in p) else p for p in phones]
    blob = b"\xff".join([p.encode("utf-8", "surrogatepass") for p in cut])
    digits = blob.translate(None, _NOT_DIGITS_SEPARATED).decode("latin-1").split("\xff")
    return [d[-10:] if len(d) >= 7 else None for d in digits] if phones else []


def website_domain(urls: pd.Series) -> pd.Series:
    """Host of a website, lower-case, without scheme, www., port or path (None for junk)."""
    return _map_unique(urls, _domains)


def _domain(url: str) -> str | None:
    match = _URL.match(url.strip().lower())
    host = match.group(1).strip(".") if match else ""
    return host if _DOMAIN.fullmatch(host) else None


def _domains(urls: list[str]) -> list[str | None]:
    return [_domain(url) for url in urls]


def _emails(emails: list[str]) -> list[str | None]:
    return [email.strip().lower() or None for email in emails]


def _shared_domains(urls: list[str]) -> list[str | None]:
    """Website domains, except mail providers and other hosts that many unrelated firms share."""
    return [None if d in GENERIC_DOMAINS else d for d in _domains(urls)]


MATCH_KINDS: tuple[tuple[str, str], ...] = (
    ("name", "same normalised name"),
    ("email", "same email"),
    ("phone", "same phone number"),
    ("website", "same website domain"),
)


KeyColumns = dict[str, tuple[np.ndarray, list[str]]]
"""Per match kind: each customer's key as a code into the list of distinct keys (-1: no key)."""


def find_duplicate_groups(customers: pd.DataFrame) -> pd.DataFrame:
    """Customers that share a match key: one row per (group_key, customer_id), >= 2 customers each.

    Keys: normalised name (company name, else contact name), email, phone, website domain
    (mail providers and other shared hosts excluded). Missing keys never match. Rows are sorted
    by group_key, then customer_id.
    """
    frame = customers.reset_index(drop=True)
    return groups_of_columns(frame["customer_id"], key_columns(frame))


def key_columns(customers: pd.DataFrame) -> KeyColumns:
    """The match keys of each customer (rows in the frame's order), per kind."""
    company = _text(customers, "company_name")
    name = np.where(pd.isna(company), _text(customers, "contact_name"), company)
    return {
        "name": _key_codes(name, _company_keys),
        "email": _key_codes(_text(customers, "email"), _emails),
        "phone": _key_codes(_text(customers, "phone"), _phone_keys),
        "website": _key_codes(_text(customers, "website"), _shared_domains),
    }


def match_keys(columns: KeyColumns) -> dict[str, list[str | None]]:
    """Each customer's key per kind as text (None: no key), from :func:`key_columns`."""
    out: dict[str, list[str | None]] = {}
    for kind, (codes, keys) in columns.items():
        lookup = np.array([*keys, None], dtype=object)  # code -1 -> the last entry
        out[kind] = lookup[codes].tolist()
    return out


def groups_of_keys(keys: pd.DataFrame, only: set[str]) -> pd.DataFrame:
    """The groups whose group_key is in ``only``, from stored keys (columns customer_id and
    ``<kind>_key``); the frame must hold every customer that has one of those keys."""
    frame = keys.reset_index(drop=True)
    columns: KeyColumns = {}
    for kind, _what in MATCH_KINDS:
        codes, uniques = pd.factorize(frame[f"{kind}_key"].to_numpy(dtype=object))
        columns[kind] = (codes, uniques.tolist())
    groups = groups_of_columns(frame["customer_id"], columns)
    return groups[groups["group_key"].isin(only)].reset_index(drop=True)


def groups_of_columns(customer_id: pd.Series, columns: KeyColumns) -> pd.DataFrame:
    """Rows of the groups of customers sharing a key (see find_duplicate_groups)."""
    id_codes, ids = pd.factorize(customer_id, use_na_sentinel=True)
    group_keys: list[str] = []
    reasons: list[str] = []
    group_parts: list[np.ndarray] = []
    id_parts: list[np.ndarray] = []
    for kind, what in MATCH_KINDS:
        codes, keys = columns[kind]
        key_of, member = _shared_members(codes, id_codes, len(ids))
        first = np.diff(key_of, prepend=-1) != 0  # key_of is sorted: a group's first row
        group_parts.append(np.cumsum(first) - 1 + len(group_keys))
        id_parts.append(member)
        used = key_of[first].tolist()
        group_keys.extend(f"{kind}:{keys[k]}" for k in used)
        reasons.extend(f"{what} '{keys[k]}'" for k in used)
    group = np.concatenate(group_parts)
    customer_ids = np.asarray(ids).take(np.concatenate(id_parts)).astype(np.int64)
    # Python's order of the (few) key strings, then numeric customer ids within a group.
    rank = np.empty(len(group_keys), dtype=np.int64)
    rank[sorted(range(len(group_keys)), key=group_keys.__getitem__)] = np.arange(len(group_keys))
    order = np.lexsort((customer_ids, rank[group]))
    group = group[order]
    return pd.DataFrame(
        {
            "group_key": pd.Series(np.array(group_keys, dtype=object)[group], dtype=object),
            "customer_id": pd.Series(customer_ids[order], dtype=np.int64),
            "match_reason": pd.Series(np.array(reasons, dtype=object)[group], dtype=object),
        }
    )


def unflagged(groups: pd.DataFrame, flagged: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """The rows of ``groups`` whose (group_key, customer_id) is not among the ``flagged`` pairs.

    After the first run nearly every pair is flagged already: leaving those out here is cheaper
    than staging them all again for the database to drop.
    """
    if not len(flagged) or groups.empty:
        return groups
    group_codes, group_keys = pd.factorize(groups["group_key"])
    flagged_codes = pd.Index(group_keys).get_indexer([pair[0] for pair in flagged])
    known = flagged_codes >= 0  # pairs of groups that no longer exist cannot match
    flagged_ids = np.array([pair[1] for pair in flagged], dtype=np.int64)[known]
    ids = np.concatenate([groups["customer_id"].to_numpy(dtype=np.int64), flagged_ids])
    id_codes, distinct_ids = pd.factorize(ids)
    width = max(len(distinct_ids), 1)
    pairs = group_codes.astype(np.int64) * width + id_codes[: len(groups)]
    seen = np.sort(flagged_codes[known].astype(np.int64) * width + id_codes[len(groups) :])
    at = np.minimum(np.searchsorted(seen, pairs), max(len(seen) - 1, 0))
    is_flagged = (seen[at] == pairs) if len(seen) else np.zeros(len(pairs), dtype=bool)
    return groups[~is_flagged].reset_index(drop=True)


def customers_frame(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """Customers read from the warehouse as a frame of object columns, built column by column
    from DB-API tuples: from 500,000 SQLAlchemy rows, pandas would take longer than grouping them."""
    return pd.DataFrame(
        {c: pd.Series([row[i] for row in rows], dtype=object) for i, c in enumerate(columns)}
    )


def _shared_members(
    codes: np.ndarray, id_codes: np.ndarray, id_count: int
) -> tuple[np.ndarray, np.ndarray]:
    """(key code, customer code) of each distinct customer holding a key two or more hold,
    sorted by key code, then customer code."""
    valid = (codes >= 0) & (id_codes >= 0)  # no key, or no customer id: nothing to match
    pairs = np.sort(codes[valid].astype(np.int64) * max(id_count, 1) + id_codes[valid])
    pairs = pairs[np.diff(pairs, prepend=-1) != 0]  # one customer listed twice counts once
    key_of, member = np.divmod(pairs, max(id_count, 1))
    shared = np.bincount(key_of)[key_of] >= 2
    return key_of[shared], member[shared]


def _key_codes(values: np.ndarray, keys_of: KeysOf) -> tuple[np.ndarray, list[str]]:
    """Match key of each value as a code into the list of distinct keys (-1: no key).

    ``keys_of`` maps a list of strings to their keys; it sees each distinct value once (names,
    emails and websites repeat a lot). Values that are not text have no key, like "".
    """
    value_codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = keys_of([v if isinstance(v, str) else "" for v in uniques.tolist()])
    key_codes, keys = pd.factorize(np.array(mapped, dtype=object), use_na_sentinel=True)
    lookup = np.append(key_codes, -1)  # value code -1 (missing) -> the last entry
    return lookup[value_codes], keys.tolist()


def _text(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A column as an object array (absent columns are all missing)."""
    if column not in frame:
        return np.full(len(frame), None, dtype=object)
    return frame[column].to_numpy(dtype=object)


def _map_unique(values: pd.Series, keys_of: KeysOf) -> pd.Series:
    """The key of each value (None for missing and non-text values)."""
    codes, keys = _key_codes(values.to_numpy(dtype=object), keys_of)
    mapped = np.array([*keys, None], dtype=object)
    return pd.Series(mapped[codes], index=values.index, dtype=object)
