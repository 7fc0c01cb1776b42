"""The record builders: one account, contact or deal of the generator, in Zoho's field names."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crm_books import config
from zoho_sandbox.generator.messy import PHONES, name_parts, phone_number
from zoho_sandbox.generator.pools import (
    CITIES,
    DESCRIPTIONS,
    HOSTILE,
    PROBABILITIES,
    PRODUCTS,
    STREETS,
    TITLES,
)
from zoho_sandbox.generator.times import closing_date
from zoho_sandbox.metadata import ACCOUNT_TYPES, DEAL_STAGES, INDUSTRIES, LEAD_SOURCES, SALUTATIONS

if TYPE_CHECKING:
    from zoho_sandbox.generator.core import Generator

# Each record draws its choices from three 64-bit hashes (mixed-radix digits) instead of a
# seeded random.Random: about three times faster, and just as deterministic. Contacts: 15%
# without an account, 2% pointing at account ids that do not exist. Deals: every stage (the
# first ten walk through all of them), some without an account, some with only a contact,
# dangling lookups, missing amounts.
_NC = len(CITIES)
_NS = len(STREETS)


def account(gen: Generator, i: int) -> dict[str, Any]:
    h, g, k = gen.draws(21, i)
    h, city = divmod(h, _NC)
    h, s_city = divmod(h, _NC)
    h, same = divmod(h, 10)
    h, a_type = divmod(h, len(ACCOUNT_TYPES))
    h, industry = divmod(h, 20)
    h, employees = divmod(h, 20000)
    h, web = divmod(h, 10)
    h, desc = divmod(h, 2 * len(DESCRIPTIONS))
    g, street = divmod(g, _NS * 999)
    g, phone = divmod(g, PHONES)
    k, s_street = divmod(k, _NS * 999)
    k, fax = divmod(k, 20)
    k, revenue = divmod(k, 10_000_000)
    b_city, b_state, b_country, b_code = CITIES[city]
    s = CITIES[city] if same < 6 else CITIES[s_city]
    name = gen.account_name(i)
    return {
        "Account_Name": name,
        "Account_Number": str(100000 + i),
        "Account_Type": ACCOUNT_TYPES[a_type],
        "Industry": INDUSTRIES[industry] if industry < len(INDUSTRIES) else None,
        "Annual_Revenue": revenue * 5.0 if revenue < 7_000_000 else None,
        "Employees": employees + 1,
        "Phone": phone_number(phone),
        "Fax": phone_number(k) if fax < 6 else ("" if fax < 13 else None),
        "Website": f"www.{name_parts(gen.seed, i)[0].lower()}.example.com" if web < 8 else "",
        "Description": DESCRIPTIONS[desc] if desc < len(DESCRIPTIONS) else None,
        "Parent_Account": None,
        "Billing_Street": _street(street),
        "Billing_City": b_city,
        "Billing_State": b_state,
        "Billing_Code": b_code,
        "Billing_Country": b_country,
        "Shipping_Street": _street(s_street),
        "Shipping_City": s[0],
        "Shipping_State": s[1],
        "Shipping_Code": s[3],
        "Shipping_Country": s[2],
    }


def contact(gen: Generator, i: int) -> dict[str, Any]:
    h, g, k = gen.draws(22, i)
    h, roll = divmod(h, 1000)
    h, city = divmod(h, _NC)
    h, o_city = divmod(h, _NC)
    h, other = divmod(h, 10)
    h, salutation = divmod(h, 10)
    h, pad = divmod(h, 100)
    h, title = divmod(h, len(TITLES))
    h, source = divmod(h, len(LEAD_SOURCES))
    h, desc = divmod(h, 100)
    g, street = divmod(g, _NS * 999)
    g, phone = divmod(g, PHONES)
    k, o_street = divmod(k, _NS * 999)
    k, has = divmod(k, 100)  # which phones the contact has
    k, mobile = divmod(k, PHONES)
    p = gen.person(i)
    account: dict[str, str] | None
    if roll < 150:
        account = None
    elif roll < 170:
        account = {"name": "Gone Ltd", "id": str(gen.dangling_id(config.ACCOUNTS, h))}
    else:
        account = gen.account_lookup(h)
    m_city, m_state, m_country, m_zip = CITIES[city]
    o = CITIES[o_city]
    has_other = other < 3
    return {
        "Salutation": SALUTATIONS[salutation] if salutation < len(SALUTATIONS) else None,
        "First_Name": p.first if pad >= 3 else f"  {p.first}  ",
        "Last_Name": p.last,
        "Full_Name": f"{p.first} {p.last}" if p.last else p.first,
        "Email": p.email,
        "Secondary_Email": None,
        "Phone": phone_number(phone) if has < 80 else "",
        "Mobile": phone_number(mobile) if has % 10 < 6 else None,
        "Fax": phone_number(mobile // 7) if has < 5 else None,
        "Title": TITLES[title],
        "Department": None,
        "Lead_Source": LEAD_SOURCES[source],
        "Account_Name": account,
        "Description": HOSTILE[desc % len(HOSTILE)] if desc < 2 else None,
        "Mailing_Street": _street(street),
        "Mailing_City": m_city,
        "Mailing_State": m_state,
        "Mailing_Zip": m_zip,
        "Mailing_Country": m_country,
        "Other_Street": _street(o_street) if has_other else None,
        "Other_City": o[0] if has_other else None,
        "Other_State": o[1] if has_other else None,
        "Other_Zip": o[3] if has_other else None,
        "Other_Country": o[2] if has_other else None,
    }


def deal(gen: Generator, i: int) -> dict[str, Any]:
    h, g, k = gen.draws(23, i)
    h, roll = divmod(h, 1000)
    h, stage = divmod(h, len(DEAL_STAGES))
    h, with_contact = divmod(h, 2)
    h, product = divmod(h, len(PRODUCTS))
    h, hostile = divmod(h, 100)
    h, amount = divmod(h, 25_000_000)
    g, has_amount = divmod(g, 10)
    g, prob = divmod(g, len(PROBABILITIES))
    g, d_type = divmod(g, 2)
    g, source = divmod(g, len(LEAD_SOURCES))
    g, desc = divmod(g, 3 * len(DESCRIPTIONS))
    g, closing = divmod(g, 240)
    account = None if roll < 100 else gen.account_lookup(k)
    if 100 <= roll < 115:
        account = {"name": "Gone Ltd", "id": str(gen.dangling_id(config.ACCOUNTS, k))}
    contact = None
    n_contacts = gen.sizes[config.CONTACTS]
    if (roll < 100 or with_contact) and n_contacts:
        j = (k >> 24) % n_contacts
        p = gen.person(j)
        contact = {
            "name": f"{p.first} {p.last}" if p.last else p.first,
            "id": str(gen.record_id(config.CONTACTS, j)),
        }
    name = (account["name"] if account else "Direct") + " - " + PRODUCTS[product]
    if hostile == 0:
        name = HOSTILE[(h + i) % len(HOSTILE)]
    return {
        "Deal_Name": name,
        "Amount": amount / 100 if has_amount < 9 else None,
        # the first deals walk through every stage, so small data sets have them all
        "Stage": DEAL_STAGES[i] if i < len(DEAL_STAGES) else DEAL_STAGES[stage],
        "Probability": PROBABILITIES[prob],
        "Closing_Date": closing_date(gen.anchor_ts, closing - 120),
        "Type": ("New Business", "Existing Business")[d_type],
        "Lead_Source": LEAD_SOURCES[source],
        "Account_Name": account,
        "Contact_Name": contact,
        "Description": DESCRIPTIONS[desc] if desc < len(DESCRIPTIONS) else None,
    }


def _street(n: int) -> str:
    """A street address from a number below len(STREETS) * 999."""
    return f"{n // _NS + 1} {STREETS[n % _NS]}"
