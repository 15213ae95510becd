"""Request dependencies: the app's state, the caller, role checks and the customer filter."""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from socialcrm.appdb.accounts import Principal
from socialcrm.appdb.db import AppDB
from socialcrm.config import Settings
from socialcrm.store.reads import CustomerFilter, ReadModel
from socialcrm.web.security import LoginLimiter, Network, TokenCache, masked, principal_of


@dataclass
class AppState:
    settings: Settings
    db: AppDB
    rm: ReadModel
    limiter: LoginLimiter
    tokens: TokenCache
    proxies: tuple[Network, ...] = ()  # SOCIALCRM_TRUSTED_PROXIES


T = TypeVar("T")


class LoginRequired(Exception):
    """A page needs a signed-in user: the handler redirects to the sign-in form."""


# Dependencies are ``async def`` on purpose: FastAPI runs plain ``def`` dependencies in
# its thread pool, a hop per dependency per request. Their work is a dict lookup, or a
# millisecond's indexed query when a token is not cached.
async def state(request: Request) -> AppState:
    return request.app.state.crm


async def refreshed(st: AppState) -> None:
    """The read model brought up to date, a rebuild (after a pipeline run) on a worker
    thread: what a handler serving from memory on the event loop awaits first."""
    if st.rm.stale():
        await run_in_threadpool(st.rm.refresh)


async def api_principal(request: Request, st: AppState = Depends(state)) -> Principal:
    p = principal_of(request, st.db, st.tokens)
    if p is None:
        raise HTTPException(
            401,
            "sign in or send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return p


async def page_principal(request: Request, st: AppState = Depends(state)) -> Principal:
    p = principal_of(request, st.db, st.tokens)
    if p is None or p.via_token:
        raise LoginRequired
    return p


def require(
    role: str, *, page: bool = False
) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """A dependency letting through callers whose role is at least ``role`` (else 403)."""
    base = page_principal if page else api_principal

    async def check(p: Principal = Depends(base)) -> Principal:
        if not p.can(role):
            raise HTTPException(403, f"this needs the {role} role or higher; you are {p.role}")
        return p

    return check


# The customer filters of the API: CustomerFilter's fields as query parameters, each
# validated with its constraints (422 on a bad value) and published in the OpenAPI schema.
ApiCustomerFilter = Annotated[CustomerFilter, Query()]


async def page_customer_filter(request: Request) -> CustomerFilter:
    """The customer filters of the page, from the same :class:`CustomerFilter`: each field
    is validated on its own and a blank or malformed one means no filter (a form's empty
    box, a hand-edited link), never an error page."""
    good: dict[str, str] = {}
    for name in CustomerFilter.model_fields:
        text = request.query_params.get(name)
        if not text:
            continue
        try:
            CustomerFilter.model_validate({name: text})
        except ValidationError:
            continue
        good[name] = text
    return CustomerFilter.model_validate(good)


PageCustomerFilter = Annotated[CustomerFilter, Depends(page_customer_filter)]


State = Annotated[AppState, Depends(state)]


def act(
    st: AppState,
    fn: Callable[[Session], T],
    *,
    errors: tuple[type[Exception], ...],
    status: int = 400,
    then: str | Callable[[T], str] | None = None,
) -> Any:
    """The body the inbox and ideas writes share: ``fn(session)`` in one transaction (the
    role is checked by the route's dependency, the audit line written by the domain), a
    domain error of ``errors`` answered ``status`` with its message; then the result, or
    with ``then`` a 303 to that page (a form), ``then(result)`` when it depends on it."""
    try:
        with st.db.session() as s:
            result = fn(s)
    except errors as e:
        raise HTTPException(status, str(e)) from None
    if then is None:
        return result
    return RedirectResponse(then if isinstance(then, str) else then(result), status_code=303)


def respond(data: Any, p: Principal | None = None, status: int = 200) -> Any:
    """``data`` as a JSON response, skipping FastAPI's re-encoding; with the caller ``p``,
    masked for it (viewers see contacts, handles and staff emails masked).

    orjson writes dates as ISO 8601 and NaN/inf as null (what :func:`clean` does, ten
    times faster). Endpoints keep their return annotations for the OpenAPI schema; a
    Response returned is sent as it is.
    """
    body = orjson.dumps(masked(data, p), default=_encode)
    return Response(body, status_code=status, media_type="application/json")


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def clean(value: Any) -> Any:
    """JSON-safe values: NaN/inf become null, decimals floats, dates ISO strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return clean(float(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value
