"""Audiences: a segment or an action list, exported as CSV or pushed to a webhook.

Consent is checked again at export time, not only when the actions were computed: a
customer who withdrew marketing consent since the last pipeline run is left out. A push
is signed (HMAC-SHA256 of the body with a shared secret, header
``X-Socialcrm-Signature: sha256=<hex>``), sent in batches, retried with exponential
backoff on 5xx answers and network errors (never on 4xx), and every batch carries a
delivery id derived from its content (``X-Socialcrm-Delivery``), so a receiver can drop
a batch it has already seen, however often it is re-sent.

The URL is chosen by whoever runs the export, and the request leaves from inside the
network the app runs in, so it passes the outbound guard (:mod:`socialcrm.outbound.urls`)
like a webhook subscription: checked when the push starts (no loopback, private,
link-local, multicast or cloud metadata host, literally or as resolved now), checked
again at every request on the address actually connected to (DNS rebinding), and never
redirected. A receiver on the same machine or the private network is allow-listed by the
operator: ``SOCIALCRM_OUTBOUND_ALLOW_HOSTS`` (setting ``outbound_allow_hosts``) or, for
one push, ``socialcrm audience export --webhook URL --allow-host``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import httpx
import ibis
import pyarrow as pa
import pyarrow.csv as pacsv
from ibis.expr import types as ir

from socialcrm.outbound.urls import (
    ALLOW_HOST_EXTENSION,
    OutboundURLError,
    Resolver,
    check_outbound_url,
    guarded_client,
    parse_outbound_url,
)
from socialcrm.store.workspace import Workspace
from socialcrm.targeting.actions import CHANNEL_PURPOSE

COLUMNS = ["customer_id", "segment", "action", "channel", "expected_value", "reason"]


class AudienceError(ValueError):
    """An audience that cannot be built or delivered, with the reason."""


def audience(
    ws: Workspace,
    segment: str | None = None,
    action: str | None = None,
    one_per_household: bool = False,
) -> pa.Table:
    """Rank-1 actions of a segment (or every customer with ``action``), consent re-checked.

    Marketing rows keep only customers whose consent for the row's channel is in force
    now; rows with no action (``none``) are never exported. With ``one_per_household``,
    of the members of one household (the ``households`` table) only the one with the
    highest expected value stays (ties and unknown values: the smallest customer id), so
    one letter reaches one home; people in no household all stay.
    """
    from socialcrm.connecting.consent import granted

    wh = ws.warehouse
    if not wh.exists("customer_actions"):
        raise AudienceError("no customer_actions table: run `socialcrm score` first")
    a = wh.table("customer_actions")
    if segment is not None:
        known = set(ws.engine.to_arrow(a.select("segment").distinct()).column(0).to_pylist())
        if segment not in known:
            names = ", ".join(sorted(map(str, known)))
            raise AudienceError(f"no customer in segment {segment!r}; segments: {names}")
        a = a.filter((a.segment == segment) & (a["rank"] == 1))
    if action is not None:
        a = a.filter(a.action == action)
    a = a.filter(a.action != "none")
    resolved = wh.exists("identity_clusters")
    ok = ibis.literal(False)
    for channel, purpose in CHANNEL_PURPOSE.items():
        allowed = granted(ws, purpose, resolved=resolved)
        ok = ok | ((a.channel == channel) & a.customer_id.isin(allowed.customer_id))
    a = a.filter(~a.marketing | ok)
    out = a.select(*COLUMNS)
    if one_per_household:
        out = _one_per_household(ws, out)
    return ws.engine.to_arrow(out.order_by("customer_id"))


def _one_per_household(ws: Workspace, rows: ir.Table) -> ir.Table:
    """``rows`` with one row per household: the member with the highest expected value."""
    if not ws.warehouse.exists("households"):
        raise AudienceError("no households table: run `socialcrm score` first")
    h = ws.warehouse.table("households").select(hid="household_id", member="customer_id")
    j = rows.left_join(h, rows.customer_id == h.member)
    alone = j.filter(j.hid.isnull()).select(*COLUMNS)
    home = j.filter(j.hid.notnull())
    w = ibis.window(
        group_by=home.hid,
        order_by=[home.expected_value.isnull(), ibis.desc(home.expected_value), home.customer_id],
    )
    ranked = home.mutate(place=ibis.row_number().over(w))
    return alone.union(ranked.filter(ranked.place == 0).select(*COLUMNS), distinct=False)


def export_csv(table: pa.Table, path: Path) -> int:
    """Write the audience as CSV with a header; returns the rows written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, path)
    return int(table.num_rows)  # pyarrow has no types: num_rows is Any


def sign(body: bytes, secret: str) -> str:
    """The signature header value a receiver recomputes to trust a body.

    >>> sign(b"{}", "s")[:15]
    'sha256=143ca8d5'
    """
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    rows: int
    attempts: int
    status: int


def check_url(
    url: str,
    *,
    allow_hosts: str | Iterable[str] | None = None,
    allow_host: bool = False,
    resolver: Resolver | None = None,
) -> None:
    """Refuse (:class:`AudienceError`) a URL the app must not push to, before any request.

    ``allow_host``: an operator's decision to let this URL's host through whatever its
    address (the form is still checked: http(s), no credentials).
    """
    try:
        if allow_host:
            parse_outbound_url(url)
        else:
            check_outbound_url(url, allow_hosts, resolver=resolver)
    except OutboundURLError as e:
        raise AudienceError(f"webhook URL refused: {e}") from None


def push_webhook(
    table: pa.Table,
    url: str,
    secret: str,
    name: str,
    batch_size: int = 500,
    retries: int = 5,
    backoff: float = 0.5,
    timeout: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    *,
    allow_hosts: str | Iterable[str] | None = None,
    allow_host: bool = False,
    resolver: Resolver | None = None,
) -> list[Delivery]:
    """POST the audience in signed JSON batches; raise after the retries run out.

    The URL is checked first (:func:`check_url`): a refused one raises
    :class:`AudienceError` before anything is sent. Each request then goes through
    :func:`~socialcrm.outbound.urls.guarded_client`, which resolves the host again,
    checks every address and connects to a checked one; a host that now resolves to a
    forbidden address (DNS rebinding) fails the push at once, unretried. Redirects are
    not followed: a 3xx answer fails the push too. ``allow_hosts`` (default:
    ``SOCIALCRM_OUTBOUND_ALLOW_HOSTS``) and ``allow_host`` let hosts through, as in
    :func:`check_url`; ``resolver`` replaces DNS (tests).
    """
    check_url(url, allow_hosts=allow_hosts, allow_host=allow_host, resolver=resolver)
    extensions = {ALLOW_HOST_EXTENSION: True} if allow_host else {}
    rows = table.to_pylist()
    out = []
    with guarded_client(timeout=timeout, allow_hosts=allow_hosts, resolver=resolver) as http:
        for start in range(0, max(len(rows), 1), batch_size):
            batch = rows[start : start + batch_size]
            content = json.dumps({"audience": name, "rows": batch}, sort_keys=True, default=str)
            delivery = hashlib.sha256(content.encode()).hexdigest()[:32]
            body = json.dumps(
                {"delivery_id": delivery, "audience": name, "rows": batch}, default=str
            ).encode()
            headers = {
                "Content-Type": "application/json",
                "X-Socialcrm-Delivery": delivery,
                "X-Socialcrm-Signature": sign(body, secret),
            }
            for attempt in range(1, retries + 2):
                try:
                    status = http.post(
                        url, content=body, headers=headers, extensions=extensions
                    ).status_code
                except OutboundURLError as e:  # resolved to a forbidden address now
                    raise AudienceError(f"webhook URL refused: {e}") from None
                except httpx.HTTPError as e:  # refused, reset, timed out: retried
                    status, reason = 0, f"{type(e).__name__}: {str(e)[:300]}"
                else:
                    reason = f"HTTP {status}"
                if 200 <= status < 300:
                    out.append(Delivery(delivery, len(batch), attempt, status))
                    break
                if 300 <= status < 400:
                    raise AudienceError(
                        f"webhook answered batch {delivery} with {reason}: redirects are "
                        "not followed"
                    )
                if 400 <= status < 500:
                    raise AudienceError(f"webhook refused batch {delivery}: {reason}")
                if attempt > retries:
                    raise AudienceError(
                        f"webhook failed for batch {delivery} after {attempt} attempts: {reason}"
                    )
                sleep(backoff * 2 ** (attempt - 1))
    return out


__all__ = [
    "AudienceError",
    "Delivery",
    "audience",
    "check_url",
    "export_csv",
    "push_webhook",
    "sign",
]
