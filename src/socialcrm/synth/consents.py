"""Consent history per customer record: grants, refusals and later withdrawals.

A person's attitude to privacy is one latent trait, so the same person tends to refuse
across purposes and records; about a third never lets the brand link their social
accounts. Email marketing consent decides who receives campaigns (see ``touches``), and
unsubscribing from a campaign is recorded here as a withdrawal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from socialcrm.store.schemas import CONSENT_PURPOSES
from socialcrm.synth.accounts import CUSTOMER, Accounts
from socialcrm.synth.clock import DAY, END
from socialcrm.synth.identities import Identities
from socialcrm.synth.people import Persons
from socialcrm.synth.records import LOYALTY, NEWSLETTER, SHOP, SUPPORT, Records
from socialcrm.synth.strings import stream

GRANTED, REFUSED, WITHDRAWN = range(3)
STATUSES = ("granted", "refused", "withdrawn")
EMAIL, SMS = CONSENT_PURPOSES.index("email_marketing"), CONSENT_PURPOSES.index("sms_marketing")
SOURCES = (
    "checkout",
    "web_form",
    "store",
    "call_centre",
    "preference_centre",
    "app",
    "unsubscribe_link",
)
"""Where a decision was recorded; the first four by the record's source system."""


@dataclass
class Consents:
    record: np.ndarray
    purpose: np.ndarray
    """Index into ``CONSENT_PURPOSES``."""
    status: np.ndarray
    at: np.ndarray
    source: np.ndarray
    """Index into ``SOURCES``."""
    window_start: dict[int, np.ndarray]
    """Per purpose (email, SMS): per record, when consent starts (END if never)."""
    window_end: dict[int, np.ndarray]

    def __len__(self) -> int:
        return len(self.record)

    def with_unsubscribes(self, record: np.ndarray, at: np.ndarray) -> Consents:
        """Add an email-marketing withdrawal for each unsubscribe."""
        k = len(record)
        return Consents(
            record=np.concatenate([self.record, record]),
            purpose=np.concatenate([self.purpose, np.full(k, EMAIL)]),
            status=np.concatenate([self.status, np.full(k, WITHDRAWN)]),
            at=np.concatenate([self.at, at]),
            source=np.concatenate([self.source, np.full(k, SOURCES.index("unsubscribe_link"))]),
            window_start=self.window_start,
            window_end=self.window_end,
        )


def make_consents(
    persons: Persons, records: Records, identities: Identities, accounts: Accounts, seed: int
) -> Consents:
    rng = stream(seed, "consents")
    m = len(records)
    privacy = rng.normal(0.0, 1.0, persons.n)[records.person] + rng.normal(0, 0.5, m)
    has_handles = np.zeros(persons.n, bool)
    has_handles[accounts.person[accounts.kind == CUSTOMER]] = True
    has_handles = has_handles[records.person]
    src = records.source
    has_email = identities.record_email != ""
    has_phone = identities.record_phone

    # Share granting / refusing (the rest never decide), per purpose.
    p_grant = {
        "email_marketing": np.select(
            [src == NEWSLETTER, src == SHOP, src == LOYALTY], [1.0, 0.65, 0.55], 0.15
        ),
        "sms_marketing": np.where(has_phone, 0.3, 0.0),
        "phone_marketing": np.where(has_phone, 0.05, 0.0),
        "social_linking": np.where(has_handles, 0.62, 0.45),
        "profiling": np.full(m, 0.55),
        "personalised_ads": np.full(m, 0.4),
    }
    p_refuse = {
        "email_marketing": np.select([src == NEWSLETTER, src == SUPPORT], [0.0, 0.15], 0.25),
        "sms_marketing": np.where(has_phone, 0.4, 0.0),
        "phone_marketing": np.where(has_phone, 0.2, 0.0),
        "social_linking": np.full(m, 0.26),
        "profiling": np.full(m, 0.2),
        "personalised_ads": np.full(m, 0.3),
    }
    rec_l, pur_l, st_l, at_l, src_l = [], [], [], [], []
    w_start = {EMAIL: np.full(m, END), SMS: np.full(m, END)}
    w_end = {EMAIL: np.full(m, END), SMS: np.full(m, END)}
    for pi, purpose in enumerate(CONSENT_PURPOSES):
        # The privacy trait shifts every purpose the same way: the uniform draw is low
        # for the open-handed and high for the private.
        u = np.clip(0.75 * rng.random(m) + 0.25 * ndtr(privacy), 0, 1)
        g = p_grant[purpose]
        rf = p_refuse[purpose]
        if purpose == "email_marketing":
            g = np.where(has_email, g, 0.0)
        status = np.where(u < g, GRANTED, np.where(u < g + rf, REFUSED, -1))
        decided = np.flatnonzero(status >= 0)
        at = records.created_at[decided] + rng.integers(0, 120, len(decided))
        rec_l.append(decided)
        pur_l.append(np.full(len(decided), pi))
        st_l.append(status[decided])
        at_l.append(at)
        src_l.append(src[decided])
        # Later changes of mind: some withdraw, a few refusers come round.
        later = rng.random(len(decided))
        change = np.where(status[decided] == GRANTED, later < 0.06, later < 0.04)
        ch = decided[change]
        when = at[change] + ((END - at[change]) * rng.random(int(change.sum()))).astype(np.int64)
        ok = when > at[change] + DAY
        ch, when = ch[ok], when[ok]
        new_status = np.where(status[ch] == GRANTED, WITHDRAWN, GRANTED)
        rec_l.append(ch)
        pur_l.append(np.full(len(ch), pi))
        st_l.append(new_status)
        at_l.append(when)
        src_l.append(np.where(rng.random(len(ch)) < 0.5, 4, 5))
        if pi in (EMAIL, SMS):
            granted = decided[status[decided] == GRANTED]
            w_start[pi][granted] = records.created_at[granted] + 120
            w_end[pi][ch[new_status == WITHDRAWN]] = when[new_status == WITHDRAWN]
            came_round = ch[new_status == GRANTED]
            w_start[pi][came_round] = when[new_status == GRANTED]
    return Consents(
        record=np.concatenate(rec_l),
        purpose=np.concatenate(pur_l),
        status=np.concatenate(st_l),
        at=np.concatenate(at_l),
        source=np.concatenate(src_l),
        window_start=w_start,
        window_end=w_end,
    )
