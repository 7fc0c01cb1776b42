"""Deterministic, lazily generated, realistic and messy CRM records for the sandbox.

Every record is a pure function of (seed, module, index), so a million-record module needs no
memory until a page is served. Messiness rates (of each module, approximately):

- Accounts: 4% near-duplicate names of an earlier account (case, spacing, punctuation, legal
  suffix), 4% unicode names (Arabic, Hebrew, CJK, combining accents, emoji), 1.5% hostile names
  (quotes, semicolons, SQL, markup, > 255 chars), 3% whitespace padding, empty-string fields.
- Contacts: 15% without an account, 2% pointing at account ids that do not exist, 3% sharing an
  email with another contact, 3% invalid emails, 3% missing last names, unicode and
  right-to-left names, hostile strings, mixed-case emails.
- Deals: every stage (the first ten deals walk through all stages), some without an account,
  some with only a contact, dangling lookups, missing amounts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, NamedTuple

from crm_books import config
from zoho_sandbox.metadata import ACCOUNT_TYPES, DEAL_STAGES, INDUSTRIES, LEAD_SOURCES, SALUTATIONS

# Zoho-like 19-digit record ids: one block of ids per module.
ID_PREFIX = 5_843_104_000_000_000_000
MODULE_CODES: dict[str, int] = {config.ACCOUNTS: 1, config.CONTACTS: 2, config.DEALS: 3}
_MODULE_BLOCK = 100_000_000_000
_DANGLING_OFFSET = 90_000_000_000  # ids in this part of a block are never generated
_DELETED_OFFSET = 80_000_000_000

DEFAULT_ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)
HISTORY_DAYS = 180
_M64 = (1 << 64) - 1


def id_base(module: str) -> int:
    """The id of generated record -1 of a module (generated record i has id base + i + 1)."""
    return ID_PREFIX + MODULE_CODES[module] * _MODULE_BLOCK


def _mix(x: int) -> int:
    """splitmix64 finaliser: a cheap, well-spread hash for per-record decisions."""
    x &= _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


_SEED_MULTIPLIER = 0x9E3779B97F4A7C15
_TAG_MULTIPLIER = 0xD1B54A32D192ED03
_TAGS = 64  # hash tags in use are below this


_SYL_A = (
    "Nor",
    "Vel",
    "Quan",
    "Bri",
    "Cor",
    "Dal",
    "Ever",
    "Fen",
    "Gal",
    "Hal",
    "Isa",
    "Jun",
    "Kel",
    "Lum",
    "Mar",
    "Nex",
    "Oak",
    "Pel",
    "Ral",
    "Sol",
    "Tor",
    "Ul",
    "Ven",
    "Zen",
)
_SYL_B = (
    "a",
    "e",
    "i",
    "o",
    "u",
    "ar",
    "en",
    "is",
    "on",
    "um",
    "ax",
    "el",
    "ir",
    "or",
    "ix",
    "an",
    "et",
    "il",
    "ov",
    "ur",
    "ay",
    "ea",
    "io",
    "ey",
)
_SYL_C = (
    "tek",
    "dyne",
    "ra",
    "nix",
    "via",
    "tron",
    "ford",
    "wick",
    "ton",
    "ville",
    "dale",
    "mark",
    "point",
    "field",
    "stone",
    "gate",
    "core",
    "scape",
    "line",
    "soft",
    "works",
    "corp",
    "ex",
    "ia",
)
_TRADES = (
    "Systems",
    "Labs",
    "Logistics",
    "Foods",
    "Textiles",
    "Motors",
    "Analytics",
    "Health",
    "Energy",
    "Capital",
    "Consulting",
    "Industries",
    "Trading",
    "Media",
    "Robotics",
    "Pharma",
    "Bakery",
    "Builders",
    "Electric",
    "Marine",
    "Solutions",
    "Networks",
    "Partners",
    "Studios",
    "Outfitters",
    "Farms",
    "Airlines",
    "Hotels",
    "Insurance",
    "Software",
    "Supplies",
    "Tools",
    "Brewing",
    "Dental",
    "Legal",
    "Realty",
    "Security",
    "Travel",
    "Ventures",
    "Wireless",
)
_COMBOS = len(_SYL_A) * len(_SYL_B) * len(_SYL_C) * len(_TRADES)
# every stem, indexed like _name_parts' mixed-radix digits (a, b, c): one lookup per name
_STEMS = tuple(a + b + c for a in _SYL_A for b in _SYL_B for c in _SYL_C)
_PERM = 7919  # coprime with _COMBOS, so base names are unique within one cycle
_LEGAL = (
    "Inc.",
    "Inc",
    "Corp",
    "Corp.",
    "Corporation",
    "Ltd",
    "Ltd.",
    "Limited",
    "LLC",
    "GmbH",
    "S.A.",
    "Pvt. Ltd.",
    "Co.",
    "PLC",
)
_BRANCHES = ("", " Europe", " Asia", " Americas", " Holdings", " Group", " International")
_UNICODE_PREFIX = (
    "شركة النور",
    "مؤسسة الأمل",
    "חברת אופק",
    "אלפא מערכות",
    "株式会社",
    "北京华星",
    "서울 테크",
    "Société Générale de",
    "Cafe\u0301 Crème",
    "Ñandú y Peña",
    "Zürich Müller &",
    "Łódź Świat",
    "Rocket 🚀",
    "Global 🌍",
    "Ελληνική",
    "Nguyễn Phúc",
    "ภาษาไทย",
)
_HOSTILE = (
    "Robert'); DROP TABLE customers; --",
    "'; DROP TABLE customers; --",
    '"Quoted" Company; Ltd',
    'O\'Brien & Sons; "The Best"',
    "<script>alert('x')</script> Inc",
    "Back\\slash | Pipe, Comma; Semi",
    "Tab\tSeparated\tTraders",
    "Line\nBreak Holdings",
    "%s %d {0} ${HOME} `whoami`",
    "NULL",
    "1; DELETE FROM books.customers WHERE 1=1",
)
_FIRST = (
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Susan",
    "Priya",
    "Rahul",
    "Ananya",
    "Wei",
    "Mei",
    "Hiroshi",
    "Yuki",
    "Olga",
    "Ivan",
    "Fatima",
    "Omar",
    "Aisha",
    "Carlos",
    "Lucía",
    "José",
    "Zoë",
    "Łukasz",
    "Björn",
    "Siobhán",
    "Nguyễn",
    "محمد",
    "فاطمة",
    "דוד",
    "שרה",
    "王",
    "李娜",
    "Jose\u0301",
    "Renée",
    "François",
    "Søren",
    "Ngozi",
    "Kwame",
    "Ayşe",
    "Mateus",
    "Chloé",
    "Dmitri",
)
_LAST = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Patel",
    "Sharma",
    "Iyer",
    "Chen",
    "Wang",
    "Tanaka",
    "Sato",
    "Kim",
    "Park",
    "Müller",
    "Schmidt",
    "Ivanova",
    "Petrov",
    "Haddad",
    "Khan",
    "Rodríguez",
    "Martínez",
    "O'Connor",
    "O'Brien",
    "van der Berg",
    "De la Cruz",
    "Nowak",
    "Kowalski",
    "Okafor",
    "Mensah",
    "Cohen",
    "Levi",
    "כהן",
    "العلي",
    "山田",
    "张伟",
    "Nguyễn",
    "Søndergaard",
    "Öztürk",
    "Dubois",
    "Lefèvre",
    "Costa",
    "Silva",
    "Andersson",
    "Smith-Jones",
)
_ASCII = {
    "ł": "l",
    "ø": "o",
    "ö": "o",
    "ü": "u",
    "é": "e",
    "è": "e",
    "í": "i",
    "á": "a",
    "ñ": "n",
    "ş": "s",
    "ễ": "e",
    "ç": "c",
    "ó": "o",
}
_DOMAINS = (
    "example.com",
    "mail.example.org",
    "corp.example.net",
    "example.co.uk",
    "example.in",
    "example.de",
    "example.jp",
)
_INVALID_EMAILS = (
    "john.smith@",
    "no-at-sign.example.com",
    "a b@example.com",
    "x@y",
    "@example.com",
    "double@@example.com",
    "trailing.dot.@example.com",
    "name@example..com",
    "<angle@example.com>",
    "mailto:info@example.com",
)
_CITIES = (
    ("Mumbai", "Maharashtra", "India", "400001"),
    ("Chennai", "Tamil Nadu", "India", "600001"),
    ("Austin", "TX", "United States", "73301"),
    ("New York", "NY", "USA", "10001"),
    ("London", "", "United Kingdom", "EC1A 1BB"),
    ("Berlin", "Berlin", "Germany", "10115"),
    ("São Paulo", "SP", "Brasil", "01000-000"),
    ("Tokyo", "東京都", "Japan", "100-0001"),
    ("Dubai", "", "UAE", ""),
    ("Tel Aviv", "", "Israel", "61000"),
    ("Toronto", "ON", "Canada", "M5H 2N2"),
    ("Sydney", "NSW", "Australia", "2000"),
    ("Zürich", "ZH", "Switzerland", "8001"),
    ("Paris", "Île-de-France", "France", "75001"),
)
_STREETS = (
    "Main St",
    "High Street",
    "MG Road",
    "Hauptstraße",
    "Rue de Rivoli",
    "Avenida Paulista",
    "Sheikh Zayed Rd",
    "Rothschild Blvd",
    "King St W",
    "George St",
    "Bahnhofstrasse",
    "銀座 4-5-6",
    "Park Ave",
)
_PRODUCTS = (
    "Renewal",
    "Expansion",
    "Pilot",
    "Enterprise licence",
    "Support plan",
    "Hardware",
    "Consulting block",
    "Migration",
    "Training",
    "Upgrade",
)
_DESCRIPTIONS = (
    "Key account.",
    "Met at trade show; follow up in Q3.",
    "",
    "Prefers email. Do not call before 10am.",
    "Imported from legacy CRM",
    "Partner referral — VIP",
    "Notes: \"handle with care\"; see 'contract'.",
)


_NC = len(_CITIES)
_NS = len(_STREETS)
_PHONES = 5 * 9_000_000_000
_TITLES = ("CEO", "CFO", "Buyer", "Engineer", "Manager", "")
_PROBABILITIES = (10, 20, 40, 60, 75, 90, 100, 0)


def _name_parts(seed: int, i: int) -> tuple[str, str]:
    """Unique base name and a trade word for account i."""
    k, t = divmod((i * _PERM + seed) % _COMBOS, len(_TRADES))
    cycle = i // _COMBOS
    if not cycle:
        return _STEMS[k], _TRADES[t]
    branch = _BRANCHES[cycle % len(_BRANCHES)] + (f" {cycle}" if cycle >= len(_BRANCHES) else "")
    return _STEMS[k], _TRADES[t] + branch


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
        return name + ", " + _LEGAL[(h >> 8) % len(_LEGAL)]
    if kind == 4:
        return name.replace(" ", ".") + "."
    return name + " " + _LEGAL[(h >> 8) % len(_LEGAL)]


def _long_string(h: int) -> str:
    return ("Very long name " + "x" * 20 + " ") * (10 + h % 5)  # always > 255 characters


class Person(NamedTuple):
    """A contact's name and email (a tuple: built for every contact and deal served)."""

    first: str
    last: str | None
    email: str | None


class Generator:
    """Deterministic records for one seed and module sizes; generated record i of a module
    has id id_base(module) + i + 1."""

    def __init__(
        self,
        *,
        seed: int,
        accounts: int,
        contacts: int,
        deals: int,
        anchor: datetime | None = None,
    ) -> None:
        self.seed = seed
        self.sizes = {
            config.ACCOUNTS: accounts,
            config.CONTACTS: contacts,
            config.DEALS: deals,
        }
        anchor = (anchor or DEFAULT_ANCHOR).astimezone(UTC)
        self.anchor_ts = int(anchor.timestamp())
        # the seed and tag part of every hash, added once here instead of per record
        self._salts = tuple(seed * _SEED_MULTIPLIER + t * _TAG_MULTIPLIER for t in range(_TAGS))
        self._account_base = id_base(config.ACCOUNTS)

    # -- cheap per-record hashing ---------------------------------------------------------
    def _h(self, tag: int, i: int) -> int:
        # _mix written out: this runs several times for every record served
        x = (self._salts[tag] + i) & _M64
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
        return x ^ (x >> 31)

    def record_id(self, module: str, i: int) -> int:
        return id_base(module) + i + 1

    def times(self, module: str, i: int) -> tuple[int, int]:
        """(Created_Time, Modified_Time) of record i as UTC epoch seconds."""
        h = self._h(10 + MODULE_CODES[module], i)
        span = HISTORY_DAYS * 86400
        created = self.anchor_ts - span + (h & 0xFFFFFFFF) % span
        age = self.anchor_ts - created
        frac = ((h >> 32) & 0xFFFF) / 65536.0
        modified = created + int(age * frac * frac)
        if (h >> 48) % 50 == 0:
            # a mass update: many records share one Modified_Time (ties across page boundaries)
            modified = modified - modified % 3600
            modified = max(modified, created)
        return created, modified

    # -- names used across modules (lookups must agree with the target record) -----------
    def account_name(self, i: int) -> str:
        h = self._h(1, i)
        roll = h % 1000
        if roll < 40 and i > 0:
            j = i - 1 - (h >> 10) % min(i, 50)
            return _variant(self._clean_account_name(j), h >> 20)
        if roll < 80:
            stem, _trade = _name_parts(self.seed, i)
            return f"{_UNICODE_PREFIX[(h >> 10) % len(_UNICODE_PREFIX)]} {stem}"
        if roll < 95:
            return _HOSTILE[(h >> 10) % len(_HOSTILE)]
        if roll < 98:
            return _long_string(h >> 10)
        name = self._clean_account_name(i)
        if roll < 128:
            return f"  {name} " if roll % 2 else f"{name}\t"
        return name

    def _clean_account_name(self, i: int) -> str:
        h = self._h(2, i)
        stem, trade = _name_parts(self.seed, i)
        name = f"{stem} {trade}"
        if h % 3 == 0:
            name += " " + _LEGAL[(h >> 4) % len(_LEGAL)]
        return name

    def person(self, i: int) -> Person:
        """Name and email of contact i (emails of other contacts are reused from here)."""
        h = self._h(3, i)
        first = _FIRST[h % len(_FIRST)]
        last: str | None = _LAST[(h >> 8) % len(_LAST)]
        roll = (h >> 16) % 1000
        if roll < 30:
            last = None if roll % 2 else ""
        email: str | None
        if 30 <= roll < 60 and i > 0:
            email = self.person(i - 1 - (h >> 26) % min(i, 20)).email  # shared email
        elif 60 <= roll < 90:
            email = _INVALID_EMAILS[(h >> 26) % len(_INVALID_EMAILS)]
        elif 90 <= roll < 130:
            email = None if roll % 2 else ""
        else:
            local = _ascii(first) + "." + _ascii(last or "x") + str((h >> 26) % 1000)
            email = f"{local}@{_DOMAINS[(h >> 40) % len(_DOMAINS)]}"
            if roll % 10 == 0:
                email = email.title()  # mixed case, as typed
        return Person(first, last, email)

    def _dangling(self, module: str, h: int) -> int:
        return id_base(module) + _DANGLING_OFFSET + h % 1_000_000_000

    def _account_lookup(self, h: int) -> dict[str, str] | None:
        n = self.sizes[config.ACCOUNTS]
        if n == 0:
            return None
        j = h % n
        return {"name": self.account_name(j), "id": str(self._account_base + j + 1)}

    # -- records --------------------------------------------------------------------------
    # Each record draws its choices from three 64-bit hashes (mixed-radix digits) instead of a
    # seeded random.Random: about three times faster, and just as deterministic.
    def _draws(self, tag: int, i: int) -> tuple[int, int, int]:
        h = self._h(tag, i)
        g = _mix(h ^ 0x5851F42D4C957F2D)
        return h, g, _mix(g ^ 0x14057B7EF767814F)

    def account(self, i: int) -> dict[str, Any]:
        h, g, k = self._draws(21, i)
        h, city = divmod(h, _NC)
        h, s_city = divmod(h, _NC)
        h, same = divmod(h, 10)
        h, a_type = divmod(h, len(ACCOUNT_TYPES))
        h, industry = divmod(h, 20)
        h, employees = divmod(h, 20000)
        h, web = divmod(h, 10)
        h, desc = divmod(h, 2 * len(_DESCRIPTIONS))
        g, street = divmod(g, _NS * 999)
        g, phone = divmod(g, _PHONES)
        k, s_street = divmod(k, _NS * 999)
        k, fax = divmod(k, 20)
        k, revenue = divmod(k, 10_000_000)
        b_city, b_state, b_country, b_code = _CITIES[city]
        s = _CITIES[city] if same < 6 else _CITIES[s_city]
        name = self.account_name(i)
        return {
            "Account_Name": name,
            "Account_Number": str(100000 + i),
            "Account_Type": ACCOUNT_TYPES[a_type],
            "Industry": INDUSTRIES[industry] if industry < len(INDUSTRIES) else None,
            "Annual_Revenue": revenue * 5.0 if revenue < 7_000_000 else None,
            "Employees": employees + 1,
            "Phone": _phone(phone),
            "Fax": _phone(k) if fax < 6 else ("" if fax < 13 else None),
            "Website": f"www.{_name_parts(self.seed, i)[0].lower()}.example.com" if web < 8 else "",
            "Description": _DESCRIPTIONS[desc] if desc < len(_DESCRIPTIONS) else None,
            "Parent_Account": None,
            "Billing_Street": f"{street // _NS + 1} {_STREETS[street % _NS]}",
            "Billing_City": b_city,
            "Billing_State": b_state,
            "Billing_Code": b_code,
            "Billing_Country": b_country,
            "Shipping_Street": f"{s_street // _NS + 1} {_STREETS[s_street % _NS]}",
            "Shipping_City": s[0],
            "Shipping_State": s[1],
            "Shipping_Code": s[3],
            "Shipping_Country": s[2],
        }

    def contact(self, i: int) -> dict[str, Any]:
        h, g, k = self._draws(22, i)
        h, roll = divmod(h, 1000)
        h, city = divmod(h, _NC)
        h, o_city = divmod(h, _NC)
        h, other = divmod(h, 10)
        h, salutation = divmod(h, 10)
        h, pad = divmod(h, 100)
        h, title = divmod(h, len(_TITLES))
        h, source = divmod(h, len(LEAD_SOURCES))
        h, desc = divmod(h, 100)
        g, street = divmod(g, _NS * 999)
        g, phone = divmod(g, _PHONES)
        k, o_street = divmod(k, _NS * 999)
        k, has = divmod(k, 100)  # which phones the contact has
        k, mobile = divmod(k, _PHONES)
        p = self.person(i)
        account: dict[str, str] | None
        if roll < 150:
            account = None
        elif roll < 170:
            account = {"name": "Gone Ltd", "id": str(self._dangling(config.ACCOUNTS, h))}
        else:
            account = self._account_lookup(h)
        m_city, m_state, m_country, m_zip = _CITIES[city]
        o = _CITIES[o_city]
        has_other = other < 3
        return {
            "Salutation": SALUTATIONS[salutation] if salutation < len(SALUTATIONS) else None,
            "First_Name": p.first if pad >= 3 else f"  {p.first}  ",
            "Last_Name": p.last,
            "Full_Name": f"{p.first} {p.last}" if p.last else p.first,
            "Email": p.email,
            "Secondary_Email": None,
            "Phone": _phone(phone) if has < 80 else "",
            "Mobile": _phone(mobile) if has % 10 < 6 else None,
            "Fax": _phone(mobile // 7) if has < 5 else None,
            "Title": _TITLES[title],
            "Department": None,
            "Lead_Source": LEAD_SOURCES[source],
            "Account_Name": account,
            "Description": _HOSTILE[desc % len(_HOSTILE)] if desc < 2 else None,
            "Mailing_Street": f"{street // _NS + 1} {_STREETS[street % _NS]}",
            "Mailing_City": m_city,
            "Mailing_State": m_state,
            "Mailing_Zip": m_zip,
            "Mailing_Country": m_country,
            "Other_Street": f"{o_street // _NS + 1} {_STREETS[o_street % _NS]}"
            if has_other
            else None,
            "Other_City": o[0] if has_other else None,
            "Other_State": o[1] if has_other else None,
            "Other_Zip": o[3] if has_other else None,
            "Other_Country": o[2] if has_other else None,
        }

    def deal(self, i: int) -> dict[str, Any]:
        h, g, k = self._draws(23, i)
        h, roll = divmod(h, 1000)
        h, stage = divmod(h, len(DEAL_STAGES))
        h, with_contact = divmod(h, 2)
        h, product = divmod(h, len(_PRODUCTS))
        h, hostile = divmod(h, 100)
        h, amount = divmod(h, 25_000_000)
        g, has_amount = divmod(g, 10)
        g, prob = divmod(g, len(_PROBABILITIES))
        g, d_type = divmod(g, 2)
        g, source = divmod(g, len(LEAD_SOURCES))
        g, desc = divmod(g, 3 * len(_DESCRIPTIONS))
        g, closing = divmod(g, 240)
        account = None if roll < 100 else self._account_lookup(k)
        if 100 <= roll < 115:
            account = {"name": "Gone Ltd", "id": str(self._dangling(config.ACCOUNTS, k))}
        contact = None
        n_contacts = self.sizes[config.CONTACTS]
        if (roll < 100 or with_contact) and n_contacts:
            j = (k >> 24) % n_contacts
            p = self.person(j)
            contact = {
                "name": f"{p.first} {p.last}" if p.last else p.first,
                "id": str(self.record_id(config.CONTACTS, j)),
            }
        name = (account["name"] if account else "Direct") + " - " + _PRODUCTS[product]
        if hostile == 0:
            name = _HOSTILE[(h + i) % len(_HOSTILE)]
        return {
            "Deal_Name": name,
            "Amount": amount / 100 if has_amount < 9 else None,
            # the first deals walk through every stage, so small data sets have them all
            "Stage": DEAL_STAGES[i] if i < len(DEAL_STAGES) else DEAL_STAGES[stage],
            "Probability": _PROBABILITIES[prob],
            "Closing_Date": _closing_date(self.anchor_ts, closing - 120),
            "Type": ("New Business", "Existing Business")[d_type],
            "Lead_Source": LEAD_SOURCES[source],
            "Account_Name": account,
            "Contact_Name": contact,
            "Description": _DESCRIPTIONS[desc] if desc < len(_DESCRIPTIONS) else None,
        }

    def body(self, module: str, i: int) -> dict[str, Any]:
        """Record i of a module, without id and times."""
        if module == config.ACCOUNTS:
            return self.account(i)
        if module == config.CONTACTS:
            return self.contact(i)
        return self.deal(i)

    def deleted(self, module: str) -> list[tuple[int, int, str, str]]:
        """Records deleted before the sandbox started: (id, deleted_ts, display_name, type)."""
        out = []
        for k in range(self.sizes[module] // 100):
            h = self._h(30 + MODULE_CODES[module], k)
            ts = self.anchor_ts - h % (HISTORY_DAYS * 86400)
            kind = "recycle" if h % 10 < 7 else "permanent"
            out.append((id_base(module) + _DELETED_OFFSET + k, ts, f"Deleted {module} {k}", kind))
        return out

    def iter_records(self, module: str) -> Iterator[dict[str, Any]]:
        """Full Zoho-format records of a module (id and ISO-8601 UTC times included)."""
        for i in range(self.sizes[module]):
            created, modified = self.times(module, i)
            rec = {"id": str(self.record_id(module, i)), **self.body(module, i)}
            rec["Created_Time"] = iso_time(created)
            rec["Modified_Time"] = iso_time(modified)
            yield rec


@lru_cache(maxsize=1024)
def _ascii(s: str) -> str:
    """An email-safe local part for a name ("user" when nothing ASCII is left)."""
    out = "".join(_ASCII.get(ch, ch) for ch in s.lower() if ch.isascii() or ch in _ASCII)
    return out.replace("'", "").replace(" ", "") or "user"


def _phone(n: int) -> str:
    """A phone number as people type them, from a number below _PHONES."""
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


@lru_cache(maxsize=4096)
def _closing_date(anchor_ts: int, days: int) -> str:
    return (datetime.fromtimestamp(anchor_ts, UTC).date() + timedelta(days=days)).isoformat()


def iso_time(ts: int, offset_minutes: int = 0) -> str:
    """Zoho's time format: ISO-8601 to the second, with an offset."""
    return datetime.fromtimestamp(ts, _tz(offset_minutes)).isoformat()


@lru_cache(maxsize=64)
def _tz(offset_minutes: int) -> timezone:
    return timezone(timedelta(minutes=offset_minutes))
