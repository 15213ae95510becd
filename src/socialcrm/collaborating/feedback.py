"""Trial offers: send a product to an amplifier, then record what they liked and would improve.

What they would improve becomes an idea on the board (source ``feedback``), credited to
them and highlighted as an influencer's, so it is voted and answered like any other.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from socialcrm.appdb.accounts import audit
from socialcrm.appdb.models import FeedbackRequest, utcnow
from socialcrm.collaborating.ideas import Contributor, IdeaError, submit


def request(s: Session, customer_id: str, product: str, actor: str) -> FeedbackRequest:
    """Record that ``product`` was sent to ``customer_id`` for their feedback."""
    customer_id, product = customer_id.strip(), " ".join(product.split())
    if not customer_id or not product:
        raise IdeaError("a feedback request needs a customer and a product")
    r = FeedbackRequest(
        customer_id=customer_id[:200], product=product[:200], created_by=actor, status="sent"
    )
    s.add(r)
    s.flush()
    audit(s, actor, "feedback.request", f"customer:{customer_id}", product=product)
    return r


def answer(s: Session, request_id: int, liked: str, improve: str, actor: str) -> FeedbackRequest:
    """Record the answer; a suggestion to improve becomes an idea credited to them."""
    r = s.get(FeedbackRequest, request_id)
    if r is None:
        raise IdeaError(f"no feedback request {request_id}")
    if r.status == "answered":
        raise IdeaError(f"feedback request {request_id} was already answered")
    r.liked, r.improve = liked.strip()[:2000], improve.strip()[:2000]
    r.status, r.answered_at = "answered", utcnow()
    if r.improve:
        idea = submit(
            s,
            f"{r.product}: {r.improve}"[:200],
            r.improve,
            actor=actor,
            source="feedback",
            contributor=Contributor(customer_id=r.customer_id, influencer=True),
            source_key=f"feedback:{r.id}",
        )
        r.idea_id = idea.id
    audit(s, actor, "feedback.answer", f"customer:{r.customer_id}", request=r.id)
    return r


def requests(s: Session, status: str | None = None) -> list[FeedbackRequest]:
    q = select(FeedbackRequest).order_by(FeedbackRequest.id.desc())
    if status:
        q = q.where(FeedbackRequest.status == status)
    return list(s.scalars(q))


__all__ = ["answer", "request", "requests"]
