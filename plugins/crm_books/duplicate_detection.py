"""Likely-duplicate customers (DESIGN.md B6): match keys and the groups that share one; nothing is merged."""

from __future__ import annotations

import re
import unicodedata
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


def normalize_company_name(names: pd.Series) -> pd.Series:
    """Matching key of a company name: case, accents, punctuation, spacing and legal suffixes folded.

    "Acme Corp", "ACME Corporation", "Acme, Inc." and " acme co. " all become "acme".
    """
    return _map_unique(names, _company_key)


def _company_key(name: str) -> str | None:
    key = name.casefold()
    if not key.isascii():
        key = unicodedata.normalize("NFC", _DIACRITICS.sub("", unicodedata.normalize("NFKD", key)))
    words = key.translate(_PUNCTUATION).split()
    kept = len(words)
    while kept and words[kept - 1] in _SUFFIXES:
        kept -= 1
    # A name that is nothing but suffixes ("Company", "Co Ltd") keeps them rather than vanish.
    return " ".join(words[:kept] if kept else words) or None


def normalize_phone(phones: pd.Series) -> pd.Series:
    """Matching key of a phone number: its last 10 digits (None with fewer than 7 digits)."""
    return _map_unique(phones, _phone_key)


def _phone_key(phone: str) -> str | None:
    if "x" in phone or "X" in phone or "#" in phone:  # only then can there be an extension
        phone = _PHONE_EXTENSION.sub("", phone)
    digits = _NON_DIGIT.sub("", phone)
    return digits[-10:] if len(digits) >= 7 else None


def website_domain(urls: pd.Series) -> pd.Series:
    """Host of a website, lower-case, without scheme, www., port or path (None for junk)."""
    return _map_unique(urls, _domain)


def _domain(url: str) -> str | None:
    match = _URL.match(url.strip().lower())
    host = match.group(1).strip(".") if match else ""
    return host if _DOMAIN.fullmatch(host) else None


def find_duplicate_groups(customers: pd.DataFrame) -> pd.DataFrame:
    """Customers that share a match key: one row per (group_key, customer_id), >= 2 customers each.

    Keys: normalised name (company name, else contact name), email, phone, website domain
    (mail providers and other shared hosts excluded). Missing keys never match.
    """
    frame = customers.reset_index(drop=True)
    ids = frame["customer_id"]
    company = _text(frame, "company_name")
    name = company.where(company.notna(), _text(frame, "contact_name"))
    email = _map_unique(_text(frame, "email"), lambda s: s.strip().lower() or None)
    domain = website_domain(_text(frame, "website"))
    domain = domain.where(~domain.isin(GENERIC_DOMAINS), None)
    keys = [
        ("name", "same normalised name", normalize_company_name(name)),
        ("email", "same email", email),
        ("phone", "same phone number", normalize_phone(_text(frame, "phone"))),
        ("website", "same website domain", domain),
    ]
    parts = []
    for kind, what, values in keys:
        pairs = pd.DataFrame({"key": values, "customer_id": ids}, dtype=object)
        pairs = pairs[pairs["key"].notna() & pairs["customer_id"].notna()].drop_duplicates()
        # Keys held by two or more distinct customers; strings are built for those rows only.
        shared = pairs[pairs["key"].duplicated(keep=False)]
        key = shared["key"].to_numpy(dtype=object)
        parts.append(
            pd.DataFrame(
                {
                    "group_key": f"{kind}:" + key,
                    "customer_id": shared["customer_id"].to_numpy(dtype=np.int64),
                    "match_reason": f"{what} '" + key + "'",
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values(["group_key", "customer_id"], kind="stable", ignore_index=True)
    return out.astype({"group_key": object, "match_reason": object})


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    """A text column as object dtype with None for missing (absent columns are all missing)."""
    if column not in frame:
        return pd.Series([None] * len(frame), dtype=object)
    values = frame[column].astype(object)
    return values.where(values.notna(), None)


def _map_unique(values: pd.Series, key: Any) -> pd.Series:
    """Apply a per-string key function to each value (each distinct value once where they
    repeat); missing and non-text values map to None."""
    array = values.to_numpy(dtype=object)
    head = array[:2_000].tolist()
    if len(set(head)) * 2 >= len(head):
        out = [key(v) if isinstance(v, str) else None for v in array.tolist()]
        return pd.Series(out, index=values.index, dtype=object)
    codes, uniques = pd.factorize(array, use_na_sentinel=True)
    mapped = np.empty(len(uniques) + 1, dtype=object)
    mapped[:-1] = [key(v) if isinstance(v, str) else None for v in uniques]
    mapped[-1] = None  # code -1: missing
    return pd.Series(mapped[codes], index=values.index, dtype=object)
