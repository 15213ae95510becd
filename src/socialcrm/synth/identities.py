"""Contact points per customer record: emails, phones, loyalty ids and social handles.

A person owns 1-4 mailboxes (mean about 2.7) spread over their records, so records of
one person often, but not always, share one. On top come the variants that make
matching hard: case and whitespace (harmless after normalisation), Gmail dots and
``+tags`` (same mailbox, different string) and the odd mistyped address (which bounces).

No two persons share a mailbox: addresses are unique by ``mailbox()``, the form
identity resolution compares (``david.walker@gmail.com`` and ``davidwalker@gmail.com``
are one Gmail mailbox), not by their spelling. A mistyped address that lands on
another person's mailbox is left correct.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from socialcrm.store.schemas import PLATFORMS
from socialcrm.synth.accounts import BS, CUSTOMER, FB, IG, LI, MA, TW, Accounts
from socialcrm.synth.clock import DAY, END
from socialcrm.synth.names import COUNTRIES, GLOBAL_EMAIL_DOMAINS, HANDLE_WORDS, WORK_EMAIL_DOMAINS
from socialcrm.synth.people import Persons
from socialcrm.synth.phones import e164, format_phones, national_numbers
from socialcrm.synth.records import LOYALTY, NEWSLETTER, SHOP, Records
from socialcrm.synth.strings import (
    S,
    cat,
    duplicated,
    map_unique,
    partition,
    pick,
    sarr,
    slug,
    stream,
    typo,
    zpad,
)

EMAIL_SOURCES = (("checkout", "account"), ("signup_form",), ("loyalty_form",), ("support_ticket",))
_TAGS = ("+shop", "+nordlicht", "+news", "+outdoor", "+promo", "+2024")
_GMAIL = ("gmail.com", "googlemail.com")


@dataclass
class Identities:
    record: np.ndarray
    kind: np.ndarray
    value: np.ndarray
    """As the source wrote it."""
    canonical: np.ndarray
    """What ingestion's normaliser should make of it (used by tests and truth)."""
    source: np.ndarray
    first_seen: np.ndarray
    last_seen: np.ndarray
    last_seen_missing: np.ndarray
    verified: np.ndarray
    person_emails: np.ndarray
    """Canonical primary email per person (guest checkouts use it)."""
    record_email: np.ndarray
    """Per record: the email as written on its first email row, '' if none."""
    record_bounces: np.ndarray
    """Per record: its email is mistyped, so mail to it bounces."""
    record_phone: np.ndarray
    """Per record: whether a phone is known."""

    def __len__(self) -> int:
        return len(self.record)


def _email_locals(
    rng: np.random.Generator, first: np.ndarray, last: np.ndarray, birth_year: np.ndarray
) -> np.ndarray:
    n = len(first)
    f = map_unique(first, slug)
    lst = map_unique(last, slug)
    f0 = np.strings.slice(f, 0, 1)
    nn = zpad(rng.integers(0, 100, n), 2)
    yy = zpad(birth_year % 100, 2)
    w1 = pick(rng, HANDLE_WORDS, n)
    w2 = pick(rng, HANDLE_WORDS, n)
    options = [
        cat(f, ".", lst),
        cat(f, lst),
        cat(f0, ".", lst),
        cat(f0, lst),
        cat(f, "_", lst),
        cat(f, ".", lst, yy),
        cat(f, nn),
        cat(lst, ".", f),
        cat(w1, w2, nn),
        cat(f, w1),
        cat(lst, f0, nn),
        cat(f, "-", lst),
    ]
    style = rng.choice(
        len(options), n, p=[0.2, 0.1, 0.08, 0.08, 0.06, 0.1, 0.08, 0.05, 0.09, 0.06, 0.05, 0.05]
    )
    out = np.full(n, "", dtype=S)
    for i, o in enumerate(options):
        out[style == i] = o[style == i]
    return out


def mailbox(email: np.ndarray) -> np.ndarray:
    """The mailbox an address delivers to, as identity resolution compares them:
    lower case, no ``+tag``, and for Gmail no dots (``googlemail.com`` is Gmail too)."""
    local, domain = partition(np.strings.lower(np.strings.strip(sarr(email))), "@")
    local = partition(local, "+")[0]
    gmail = np.isin(domain, sarr(_GMAIL))
    local = np.where(gmail, np.strings.replace(local, ".", ""), local)
    out: np.ndarray = cat(local.astype(S), "@", np.where(gmail, "gmail.com", domain).astype(S))
    return out


def _unique(rng: np.random.Generator, local: np.ndarray, domain: np.ndarray) -> np.ndarray:
    """Emails unique across persons by mailbox, not by spelling: a local part whose
    mailbox is taken gets a number appended."""
    for _ in range(30):
        email = cat(local, "@", domain)
        dup = duplicated(mailbox(email))
        if not dup.any():
            return email
        local[dup] = cat(local[dup], zpad(rng.integers(0, 1000, int(dup.sum())), 2))
    raise RuntimeError("could not make emails unique")


def _display_email(rng: np.random.Generator, email: np.ndarray) -> np.ndarray:
    """Case and whitespace as people type them; the normalised value is unchanged."""
    n = len(email)
    local, domain = partition(email, "@")
    r = rng.random(n)
    cap = cat(np.strings.title(local), "@", domain)
    upper = np.strings.upper(email)
    cap_domain = cat(local, "@", np.strings.capitalize(domain))
    spaced = cat(" ", email, " ")
    out = np.where(
        r < 0.12,
        cap,
        np.where(
            r < 0.16, upper, np.where(r < 0.21, cap_domain, np.where(r < 0.27, spaced, email))
        ),
    )
    return out.astype(S)


def _alias(rng: np.random.Generator, email: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Same mailbox, different string (Gmail dots, +tags), or a typo. Returns
    (new email, is_typo)."""
    n = len(email)
    local, domain = partition(email, "@")
    gmail = domain == "gmail.com"
    has_dot = np.strings.find(local, ".") >= 0
    undotted = np.strings.replace(local, ".", "")
    mid = np.maximum(np.strings.str_len(local) // 2, 1)
    dotted = cat(np.strings.slice(local, 0, mid), ".", np.strings.slice(local, mid, 99))
    gm = np.where(has_dot, undotted, dotted)
    tagged = cat(local, pick(rng, _TAGS, n))
    r = rng.random(n)
    is_typo = r < 0.3
    new_local = np.where(is_typo, typo(rng, local), np.where(gmail & (r < 0.7), gm, tagged))
    return cat(new_local, "@", domain), is_typo


def make_identities(
    persons: Persons, records: Records, accounts: Accounts, seed: int
) -> Identities:
    rng = stream(seed, "identities")
    n = persons.n
    m = len(records)
    rec_count = np.bincount(records.person, minlength=n)
    rec_start = np.concatenate([[0], np.cumsum(rec_count)[:-1]])

    # -- the persons' mailboxes -----------------------------------------------------------
    k = rng.choice([1, 2, 3, 4], n, p=[0.13, 0.3, 0.36, 0.21])
    owner = np.repeat(np.arange(n), k)
    slot = np.arange(len(owner)) - np.repeat(np.cumsum(k) - k, k)
    birth_year = (
        persons.birth[owner].astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64) + 1970
    )
    local = _email_locals(rng, persons.first[owner], persons.last[owner], birth_year)
    ccode = persons.country[owner]
    c_domains = [c.email_domains for c in COUNTRIES]
    flat = sarr([d for ds in c_domains for d in ds])
    sizes = np.array([len(ds) for ds in c_domains])
    offs = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    local_dom = flat[
        offs[ccode]
        + np.minimum(
            (rng.random(len(owner)) ** 1.5 * sizes[ccode]).astype(np.int64), sizes[ccode] - 1
        )
    ]
    r = rng.random(len(owner))
    domain = np.where(r < 0.62, local_dom, pick(rng, GLOBAL_EMAIL_DOMAINS, len(owner)))
    work = (slot > 0) & (r > 0.9)
    domain = np.where(work, pick(rng, WORK_EMAIL_DOMAINS, len(owner)), domain)
    local = np.where(
        work,
        cat(map_unique(persons.first[owner], slug), ".", map_unique(persons.last[owner], slug)),
        local,
    ).astype(S)
    email = _unique(rng, local.astype(S), domain.astype(S))
    e_start = np.concatenate([[0], np.cumsum(k)[:-1]])

    # -- which record knows which mailbox --------------------------------------------------
    rec_of_slot = np.where(
        slot == 0,
        rec_start[owner],
        rec_start[owner] + (rng.random(len(owner)) * rec_count[owner]).astype(np.int64),
    )
    rows_rec = [rec_of_slot]
    rows_mail = [np.arange(len(owner))]
    nonprim = np.flatnonzero(~records.primary)
    overlap = nonprim[rng.random(len(nonprim)) < 0.45]
    rows_rec.append(overlap)
    rows_mail.append(e_start[records.person[overlap]])
    rec_a = np.concatenate(rows_rec)
    mail_a = np.concatenate(rows_mail)
    has_mail = np.zeros(m, bool)
    has_mail[rec_a] = True
    need = ~has_mail & ((np.isin(records.source, [SHOP, NEWSLETTER])) | (rng.random(m) < 0.5))
    need_idx = np.flatnonzero(need)
    pp = records.person[need_idx]
    rec_a = np.concatenate([rec_a, need_idx])
    mail_a = np.concatenate([mail_a, e_start[pp] + (rng.random(len(pp)) * k[pp]).astype(np.int64)])
    key = rec_a.astype(np.int64) * (len(owner) + 1) + mail_a
    keep = ~duplicated(key)
    rec_a, mail_a = rec_a[keep], mail_a[keep]

    canon = email[mail_a]
    variant = ~records.primary[rec_a] & (rng.random(len(rec_a)) < 0.09)
    alias, is_typo = _alias(rng, canon[variant])
    # A typo that spells a real mailbox (another person's, most likely) is no typo: it
    # would hand the record to that mailbox's owner. Such rows keep the right address.
    taken = pd.Index(mailbox(email).astype(object)).get_indexer(mailbox(alias).astype(object))
    lands = is_typo & (taken >= 0)
    alias[lands] = canon[variant][lands]
    is_typo &= ~lands
    canon = canon.copy()
    canon[variant] = alias
    typo_row = np.zeros(len(rec_a), bool)
    typo_row[np.flatnonzero(variant)[is_typo]] = True
    # An alias can collide with another row of the same record; keep the first.
    key2 = cat(sarr(rec_a.astype(str)), "|", canon)
    keep = ~duplicated(key2)
    rec_a, canon, typo_row = rec_a[keep], canon[keep], typo_row[keep]
    shown = _display_email(rng, canon)

    src = records.source[rec_a]
    e_source = np.select(
        [src == SHOP, src == NEWSLETTER, src == LOYALTY],
        [
            np.where(rng.random(len(rec_a)) < 0.7, "checkout", "account"),
            "signup_form",
            "loyalty_form",
        ],
        "support_ticket",
    )
    e_verified = rng.random(len(rec_a)) < np.array([0.6, 0.85, 0.35, 0.1])[src]
    e_verified &= ~typo_row

    record_email = np.full(m, "", dtype=S)
    record_bounces = np.zeros(m, bool)
    first_row = np.flatnonzero(~duplicated(rec_a))
    record_email[rec_a[first_row]] = shown[first_row]
    record_bounces[rec_a[first_row]] = typo_row[first_row]

    # -- phones ------------------------------------------------------------------------------
    has_phone = rng.random(n) < 0.72
    second = has_phone & (rng.random(n) < 0.12)
    ph_owner = np.concatenate([np.flatnonzero(has_phone), np.flatnonzero(second)])
    ph_slot = np.concatenate([np.zeros(has_phone.sum(), np.int64), np.ones(second.sum(), np.int64)])
    ph_country = persons.country[ph_owner]
    nsn = national_numbers(rng, ph_country)
    # one number, one person: redraw clashes until none is left (ten rounds left some
    # hundred shared numbers at a million persons)
    for _ in range(200):
        dup = duplicated(e164(ph_country, nsn))
        if not dup.any():
            break
        nsn[dup] = national_numbers(rng, ph_country[dup])
    else:
        raise RuntimeError("could not give every person a phone number of their own")
    phone_of = {s: np.full(n, -1) for s in (0, 1)}
    for s in (0, 1):
        phone_of[s][ph_owner[ph_slot == s]] = np.flatnonzero(ph_slot == s)
    p_rec = np.array([0.55, 0.05, 0.8, 0.75])[records.source]
    with_phone = (phone_of[0][records.person] >= 0) & (rng.random(m) < p_rec)
    rp = np.flatnonzero(with_phone)
    use_second = (phone_of[1][records.person[rp]] >= 0) & (rng.random(len(rp)) < 0.3)
    which = np.where(use_second, phone_of[1][records.person[rp]], phone_of[0][records.person[rp]])
    ph_value = format_phones(rng, ph_country[which], nsn[which])
    ph_canon = e164(ph_country[which], nsn[which])
    ph_source = np.array(["checkout", "sms_signup", "loyalty_form", "support_call"])[
        records.source[rp]
    ]
    ph_verified = rng.random(len(rp)) < 0.3

    # -- loyalty cards ------------------------------------------------------------------------
    has_card = np.zeros(n, bool)
    has_card[records.person[records.source == LOYALTY]] = True
    # A multiplicative bijection of 0..10^8-1: unique card numbers that look random.
    card_no = (np.arange(n, dtype=np.int64) * 48_271_823 + int(rng.integers(0, 10**8))) % 10**8
    card_digits = zpad(card_no, 8)
    p_card = np.array([0.35, 0.0, 1.0, 0.1])[records.source]
    with_card = has_card[records.person] & (rng.random(m) < p_card)
    rc = np.flatnonzero(with_card)
    d = card_digits[records.person[rc]]
    a4, b4 = np.strings.slice(d, 0, 4), np.strings.slice(d, 4, 8)
    forms = [
        cat("NL-", a4, " ", b4),
        cat("NL", d),
        cat("nl-", a4, "-", b4),
        cat("NL ", a4, " ", b4),
    ]
    fi = rng.choice(4, len(rc), p=[0.5, 0.25, 0.1, 0.15])
    lc_value = np.full(len(rc), "", dtype=S)
    for i, f in enumerate(forms):
        lc_value[fi == i] = f[fi == i]
    lc_canon = cat("NL", d)
    lc_source = np.where(
        records.source[rc] == LOYALTY,
        "loyalty_card",
        np.where(records.source[rc] == SHOP, "checkout", "support_ticket"),
    )
    lc_verified = records.source[rc] == LOYALTY

    # -- social handles the brand learned about ------------------------------------------------
    acc = np.flatnonzero((accounts.kind == CUSTOMER) & (rng.random(len(accounts)) < 0.55))
    ap = accounts.person[acc]
    h_rec = rec_start[ap] + (rng.random(len(acc)) * rec_count[ap]).astype(np.int64)
    h_canon = accounts.handle[acc]
    h_value = _handle_variants(rng, accounts.platform[acc], h_canon)
    h_kind = sarr(PLATFORMS)[accounts.platform[acc]]
    hr = rng.random(len(acc))
    h_source = np.where(
        hr < 0.35, "social_login", np.where(hr < 0.85, "profile_form", "contest_entry")
    )
    h_verified = hr < 0.35

    # -- all rows ------------------------------------------------------------------------------
    record = np.concatenate([rec_a, rp, rc, h_rec])
    kind = np.concatenate(
        [
            np.full(len(rec_a), "email", dtype=S),
            np.full(len(rp), "phone", dtype=S),
            np.full(len(rc), "loyalty_id", dtype=S),
            h_kind,
        ]
    ).astype(S)
    value = np.concatenate([shown, ph_value, lc_value, h_value]).astype(S)
    canonical = np.concatenate([canon, ph_canon, lc_canon, h_canon]).astype(S)
    source = np.concatenate([e_source, ph_source, lc_source, h_source]).astype(S)
    verified = np.concatenate([e_verified, ph_verified, lc_verified, h_verified])
    created = records.created_at[record]
    later = rng.random(len(record)) < 0.3
    first_seen = np.minimum(
        created + np.where(later, rng.exponential(60, len(record)) * DAY, 0).astype(np.int64),
        END - 60,
    )
    last_seen = first_seen + (rng.random(len(record)) * (END - first_seen)).astype(np.int64)
    last_seen_missing = rng.random(len(record)) < 0.15
    kind_code = np.concatenate(
        [np.zeros(len(rec_a)), np.ones(len(rp)), np.full(len(rc), 2), 3 + accounts.platform[acc]]
    )
    order = np.lexsort((kind_code, record))
    return Identities(
        record=record[order],
        kind=kind[order],
        value=value[order],
        canonical=canonical[order],
        source=source[order],
        first_seen=first_seen[order],
        last_seen=last_seen[order],
        last_seen_missing=last_seen_missing[order],
        verified=verified[order],
        person_emails=email[e_start],
        record_email=record_email,
        record_bounces=record_bounces,
        record_phone=np.isin(np.arange(m), rp),
    )


_URLS = {
    TW: "https://twitter.com/",
    IG: "https://www.instagram.com/",
    FB: "https://www.facebook.com/",
    LI: "https://www.linkedin.com/in/",
    BS: "https://bsky.app/profile/",
}


def _handle_variants(
    rng: np.random.Generator, platform: np.ndarray, handle: np.ndarray
) -> np.ndarray:
    """``@TrailFox``, ``trailfox``, ``https://www.instagram.com/trailfox/``..."""
    n = len(handle)
    r = rng.random(n)
    at = cat("@", handle)
    cap = np.strings.capitalize(handle)
    url_prefix = np.full(n, "", dtype=S)
    for p, u in _URLS.items():
        url_prefix[platform == p] = u
    url = cat(url_prefix, handle, np.where(rng.random(n) < 0.5, "/", ""))
    can_url = platform != MA
    out = np.where(
        r < 0.35,
        handle,
        np.where(
            r < 0.6, at, np.where(r < 0.72, cap, np.where((r < 0.87) & can_url, url, cat("@", cap)))
        ),
    )
    return out.astype(S)
