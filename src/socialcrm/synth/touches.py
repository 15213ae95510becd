"""Email and SMS campaigns and how each record reacted to them.

Only records with a consent window receive a campaign. Engaged people open (about a
quarter of sends overall) and click (a few percent); people who have stopped buying stop
opening; mistyped addresses bounce; an unsubscribe ends the window and becomes a consent
withdrawal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from socialcrm.synth.clock import END, START
from socialcrm.synth.consents import EMAIL, SMS, Consents
from socialcrm.synth.identities import Identities
from socialcrm.synth.people import Persons
from socialcrm.synth.purchases import Orders
from socialcrm.synth.records import Records
from socialcrm.synth.strings import stream

EVENTS = ("sent", "delivered", "open", "click", "unsubscribe", "bounce")
SENT, DELIVERED, OPEN, CLICK, UNSUBSCRIBE, BOUNCE = range(6)
_PROMOS = (
    ("2024-03-14", "SPRING"),
    ("2024-06-13", "SUMMER"),
    ("2024-09-12", "AUTUMN"),
    ("2024-11-28", "BLACKFRIDAY"),
    ("2024-12-12", "XMAS"),
    ("2025-03-13", "SPRING"),
    ("2025-06-12", "SUMMER"),
    ("2025-09-11", "AUTUMN"),
    ("2025-11-27", "BLACKFRIDAY"),
    ("2025-12-11", "XMAS"),
    ("2026-03-12", "SPRING"),
    ("2026-06-11", "SUMMER"),
)
_SMS = (
    ("2024-11-29", "BLACKFRIDAY"),
    ("2025-06-20", "SUMMER"),
    ("2025-11-28", "BLACKFRIDAY"),
    ("2026-03-20", "SPRING"),
)


CHANNELS = ("email", "sms")


@dataclass
class Touches:
    """Touches in time order (their ids number them in this order)."""

    record: np.ndarray
    channel: np.ndarray
    """Index into ``CHANNELS``."""
    campaign: np.ndarray
    """Index into ``campaign_ids``."""
    campaign_ids: list[str]
    event: np.ndarray
    """Index into ``EVENTS``."""
    at: np.ndarray
    unsubscribed_record: np.ndarray
    unsubscribed_at: np.ndarray

    def __len__(self) -> int:
        return len(self.record)


def _campaigns() -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """(ids, send times, target share, channel) of every campaign."""
    ids, times, share, channel = [], [], [], []
    month = np.datetime64("2024-01", "M")
    while True:
        t = int(
            (month.astype("datetime64[s]") + np.timedelta64(3 * 86400 + 8 * 3600, "s")).astype(
                np.int64
            )
        )
        if t >= END:
            break
        ids.append(f"NEWS-{month!s}")
        times.append(t)
        share.append(0.25)
        channel.append("email")
        month += 1
    for day, name in _PROMOS:
        ids.append(f"PROMO-{day[:7]}-{name}")
        times.append(int(np.datetime64(day + "T09:00:00", "s").astype(np.int64)))
        share.append(0.2)
        channel.append("email")
    for day, name in _SMS:
        ids.append(f"SMS-{day[:7]}-{name}")
        times.append(int(np.datetime64(day + "T11:00:00", "s").astype(np.int64)))
        share.append(0.3)
        channel.append("sms")
    return ids, np.array(times), np.array(share), channel


def make_touches(
    persons: Persons,
    records: Records,
    identities: Identities,
    consents: Consents,
    orders: Orders,
    seed: int,
) -> Touches:
    rng = stream(seed, "touches")
    ids, times, share, channel = _campaigns()
    m = len(records)
    eng = persons.engagement[records.person]
    dropped = np.full(persons.n, END)
    tr = orders.truth
    dropped[tr.person] = np.where(tr.dropped_at >= 0, tr.dropped_at, END)
    dropped_at = dropped[records.person]
    has_email = identities.record_email != ""

    rec_l, camp_l = [], []
    for c, (t, f, ch) in enumerate(zip(times, share, channel, strict=True)):
        purpose = EMAIL if ch == "email" else SMS
        ok = (
            (consents.window_start[purpose] <= t)
            & (t < consents.window_end[purpose])
            & (records.created_at < t)
            & (t >= START)
        )
        ok &= has_email if ch == "email" else identities.record_phone
        send = np.flatnonzero(ok & (rng.random(m) < f))
        rec_l.append(send)
        camp_l.append(np.full(len(send), c))
    rec = np.concatenate(rec_l)
    camp = np.concatenate(camp_l)
    is_email = np.array([c == "email" for c in channel])[camp]
    sent_at = times[camp] + rng.integers(0, 7200, len(rec))

    # Unsubscribing ends the stream of emails to that record.
    p_unsub = np.where(is_email, 0.0015 + 0.004 * (1 - eng[rec]), 0.0)
    flag = rng.random(len(rec)) < p_unsub
    first_unsub = np.full(m, END + 1)
    np.minimum.at(first_unsub, rec[flag], sent_at[flag])
    keep = ~is_email | (sent_at <= first_unsub[rec])
    rec, camp, sent_at, is_email, flag = (
        rec[keep],
        camp[keep],
        sent_at[keep],
        is_email[keep],
        flag[keep],
    )
    flag &= sent_at == first_unsub[rec]
    n = len(rec)

    bounce = is_email & (identities.record_bounces[rec] | (rng.random(n) < 0.004))
    delivered = ~bounce
    deliver_at = sent_at + rng.integers(5, 300, n)
    e = eng[rec]
    p_open = np.clip(0.07 + 0.7 * e + rng.normal(0, 0.05, n), 0.01, 0.9)
    p_open *= np.where(sent_at > dropped_at[rec], 0.4, 1.0)
    p_open *= np.where(is_email, 1.0, 0.0)
    opened = delivered & (rng.random(n) < p_open)
    open_at = deliver_at + (rng.exponential(10 * 3600, n) + 30).astype(np.int64)
    p_click = np.where(is_email, 0.08 + 0.25 * e, 0.02 + 0.1 * e)
    clicked = np.where(is_email, opened, delivered) & (rng.random(n) < p_click)
    click_at = np.where(is_email, open_at, deliver_at + rng.integers(60, 3600, n)) + (
        rng.exponential(180, n) + 5
    ).astype(np.int64)
    unsub = flag & delivered
    unsub_at = np.where(opened, open_at, deliver_at + 3600) + rng.integers(20, 600, n)

    parts: list[tuple[np.ndarray, np.ndarray | int, np.ndarray]] = [
        (np.arange(n), np.full(n, SENT), sent_at),
        (np.flatnonzero(delivered), DELIVERED, deliver_at[delivered]),
        (np.flatnonzero(bounce), BOUNCE, (sent_at + 60)[bounce]),
        (np.flatnonzero(opened), OPEN, open_at[opened]),
        (np.flatnonzero(clicked), CLICK, click_at[clicked]),
        (np.flatnonzero(unsub), UNSUBSCRIBE, unsub_at[unsub]),
    ]
    idx = np.concatenate([p[0] for p in parts])
    event = np.concatenate([np.broadcast_to(p[1], len(p[0])) for p in parts])
    at = np.concatenate([p[2] for p in parts])
    valid = at < END
    idx, event, at = idx[valid], event[valid], at[valid]
    order = np.lexsort((event, at))
    idx, event, at = idx[order], event[order], at[order]
    unsub_ok = unsub & (unsub_at < END)
    return Touches(
        record=rec[idx],
        channel=np.where(is_email[idx], 0, 1),
        campaign=camp[idx],
        campaign_ids=ids,
        event=event,
        at=at,
        unsubscribed_record=rec[unsub_ok],
        unsubscribed_at=unsub_at[unsub_ok],
    )
