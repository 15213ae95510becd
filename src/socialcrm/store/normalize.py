"""Normalisers for contact points: emails, phones and social handles.

Each returns the canonical form, or raises ``ValueError`` with a reason a person can act
on. Identity resolution compares these canonical forms, so the same rules apply at
ingestion and at matching time.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

_EMAIL = re.compile(
    r"^[^@\s<>()\[\],;:\"]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+)*\.[a-z]{2,}$"
)
_HANDLE_URL = re.compile(
    r"^(?:https?://)?(?:www\.|mobile\.)?"
    r"(?:twitter\.com|x\.com|instagram\.com|facebook\.com|linkedin\.com/in|bsky\.app/profile)/",
)
_SIMPLE_HANDLE = re.compile(r"^[a-z0-9_.]{1,50}$")
_MASTODON = re.compile(r"^[a-z0-9_]{1,30}(?:@[a-z0-9.-]+\.[a-z]{2,})?$")
_BLUESKY = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


def email(value: str) -> str:
    """Lower-case, trimmed email; ``ValueError`` if it is not one.

    >>> email("  Anna.Berg@Example.COM ")
    'anna.berg@example.com'
    """
    v = value.strip().lower()
    if v.startswith("mailto:"):
        v = v[7:]
    if not _EMAIL.match(v):
        raise ValueError(f"{value.strip()!r} is not a valid email address")
    return v


@lru_cache(maxsize=200_000)
def phone(value: str, region: str = "US") -> str:
    """E.164 form of a phone number; national numbers are read in ``region``.

    >>> phone("+44 20 7946 0958")
    '+442079460958'
    >>> phone("030 901820", region="DE")
    '+4930901820'
    """
    raw = value.strip()
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        parsed = phonenumbers.parse(raw, region.upper())
    except phonenumbers.NumberParseException as e:
        raise ValueError(f"{value.strip()!r} is not a phone number ({e._msg})") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{value.strip()!r} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def handle(platform: str, value: str) -> str:
    """A platform's handle in canonical form: no ``@``, no profile URL, lower case.

    Mastodon keeps its instance (``user@instance``); Bluesky handles are domain names.

    >>> handle("twitter", "@Nordlicht_Fan")
    'nordlicht_fan'
    >>> handle("mastodon", "@Anna@Mastodon.Social")
    'anna@mastodon.social'
    >>> handle("instagram", "https://www.instagram.com/anna.berg/")
    'anna.berg'
    """
    v = value.strip().lower()
    v = _HANDLE_URL.sub("", v).strip("/")
    v = v.removeprefix("@")
    if platform == "mastodon":
        ok = _MASTODON.match(v)
    elif platform == "bluesky":
        ok = _BLUESKY.match(v)
    elif platform in ("facebook", "linkedin"):
        ok = _SLUG.match(v)
    else:
        ok = _SIMPLE_HANDLE.match(v)
    if not ok:
        raise ValueError(f"{value.strip()!r} is not a valid {platform} handle")
    return v


def loyalty_id(value: str) -> str:
    """Loyalty card numbers: upper case, without spaces or dashes.

    >>> loyalty_id(" nl-0042 1337 ")
    'NL00421337'
    """
    v = re.sub(r"[\s-]", "", value).upper()
    if not v.isalnum():
        raise ValueError(f"{value.strip()!r} is not a valid loyalty id")
    return v


def tag_list(value: str) -> str:
    """A ``;``-separated list, trimmed, lower-cased, de-duplicated in order.

    >>> tag_list("Running; travel;;running , Hiking")
    'running;travel;hiking'
    """
    seen: dict[str, None] = {}
    for part in re.split(r"[;,]", value):
        p = part.strip().lower()
        if p:
            seen[p] = None
    return ";".join(seen)


def identity_value(kind: str, value: str, phone_region: str = "US") -> str:
    """Normalise an identity by its kind (email, phone, loyalty id, or a platform)."""
    if kind == "email":
        return email(value)
    if kind == "phone":
        return phone(value, phone_region)
    if kind == "loyalty_id":
        return loyalty_id(value)
    return handle(kind, value)
