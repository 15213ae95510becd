"""Ideas: sync from posts, confirm, votes raw and weighted, merge and unmerge, statuses."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from socialcrm.appdb.models import AuditEntry, Idea, WebhookEvent
from socialcrm.collaborating import feedback, ideas, people
from socialcrm.collaborating.ideas import Contributor, IdeaError


def _value(rm):
    return lambda ids: people.values(rm, ids)


def _route(rm):
    return lambda ids: people.routes(rm, ids)


def test_sync_proposes_suggestions_once_and_flags_influencers(world) -> None:
    db, rm = world
    with db.session() as s:
        first = ideas.sync(s, rm, followers_floor=10_000)
    with db.session() as s:
        again = ideas.sync(s, rm, followers_floor=10_000)
        rows = list(s.scalars(select(Idea).order_by(Idea.id)))
        by_key = {i.source_key: i for i in rows}
    # p3 (spam) and p5 address no brand, p4 is praise
    assert first == {"proposed": 2, "skipped": 0, "not_ideas": 0, "not_addressed": 2}
    assert again == {"proposed": 0, "skipped": 2, "not_ideas": 0, "not_addressed": 2}
    assert set(by_key) == {"post:mastodon:p1", "post:bluesky:p2"}
    assert all(i.proposed for i in rows)
    # k1 is an amplifier; the stranger has 50k followers: both highlighted
    assert by_key["post:mastodon:p1"].highlighted and by_key["post:bluesky:p2"].highlighted


def test_proposed_idea_needs_confirmation_before_a_status(world) -> None:
    db, rm = world
    with db.session() as s:
        ideas.sync(s, rm, 10_000)
        idea_id = s.scalar(select(Idea.id).where(Idea.source_key == "post:mastodon:p1"))
        with pytest.raises(IdeaError, match="confirm it first"):
            ideas.set_status(s, idea_id, "planned", "soon", "agent@x.io", _route(rm))
        ideas.confirm(s, idea_id, "agent@x.io")
        ideas.set_status(s, idea_id, "planned", "soon", "agent@x.io", _route(rm))
        assert ideas.get(s, idea_id).status == "planned"


def test_votes_raw_and_weighted_by_value(world) -> None:
    db, rm = world
    with db.session() as s:
        i = ideas.submit(s, "Dark mode", actor="a@x.io")
        for voter in ("k1", "k2", "k2", "nobody"):
            ideas.vote(s, i.id, voter, "a@x.io")
        d = ideas.detail(s, i.id, _value(rm))
    assert d["votes"] == 3  # k2 voted twice, counted once
    assert d["clv"] == 1000.0  # 900 + 100 + 0 for the unknown voter
    assert d["influence"] == 85.0


def _snapshot(s, idea_id: int) -> tuple[list, list]:
    vs = sorted((v.id, v.voter, v.origin_idea_id) for v in ideas.votes(s, idea_id))
    cs = sorted(
        (c.id, c.customer_id, c.handle, c.post_id, c.influencer)
        for c in ideas.contributors(s, idea_id)
    )
    return vs, cs


def test_merge_then_unmerge_restores_votes_and_contributors_exactly(world) -> None:
    db, rm = world
    with db.session() as s:
        a = ideas.submit(
            s, "Dark mode for the app", actor="x", contributor=Contributor("k1", influencer=True)
        )
        b = ideas.submit(
            s, "Please add dark mode in the app", actor="x", contributor=Contributor("k2")
        )
        for v in ("k1", "k3", "v9"):
            ideas.vote(s, a.id, v, "x")
        for v in ("k3", "k4"):  # k3 voted for both: one vote after the merge
            ideas.vote(s, b.id, v, "x")
        before_a, before_b = _snapshot(s, a.id), _snapshot(s, b.id)
        hist_a = [h.id for h in ideas.history(s, a.id)]

        pairs = ideas.similar(s, threshold=0.3)
        assert pairs and {pairs[0]["a"], pairs[0]["b"]} == {a.id, b.id}
        ideas.merge(s, a.id, b.id, "agent@x.io", similarity=pairs[0]["similarity"])
        merged = ideas.detail(s, b.id, _value(rm))
        assert merged["votes"] == 4  # k1, k3, v9, k4
        assert {c["customer_id"] for c in merged["contributors"]} == {"k1", "k2"}
        assert merged["highlighted"]  # k1, an influencer, came along
        assert set(hist_a) <= {h.id for h in ideas.history(s, b.id)}
        assert ideas.board(s, _value(rm))[0]["id"] == b.id
        assert a.id not in {r["id"] for r in ideas.board(s, _value(rm))}
        # votes on the merged idea land on the one standing for it
        ideas.vote(s, a.id, "late", "x")
        assert "late" in ideas.detail(s, b.id, _value(rm))["voters"]
        s.flush()

    with db.session() as s:
        # undo the late vote so the comparison is about the merge only
        late = next(v for v in ideas.votes(s, b.id) if v.voter == "late")
        s.delete(late)
        ideas.unmerge(s, a.id, "agent@x.io")
        assert _snapshot(s, a.id) == before_a
        assert _snapshot(s, b.id) == before_b
        assert ideas.get(s, a.id).merged_into_id is None
        assert not ideas.get(s, b.id).highlighted
        assert ideas.get(s, a.id).highlighted
        with pytest.raises(IdeaError, match="not merged"):
            ideas.unmerge(s, a.id, "agent@x.io")
        actions = set(s.scalars(select(AuditEntry.action)))
        assert {"idea.merge", "idea.unmerge"} <= actions


def test_status_change_notifies_each_contributor_as_consent_allows(world) -> None:
    db, rm = world
    with db.session() as s:
        i = ideas.submit(s, "Bigger battery", actor="x", contributor=Contributor("k1"))
        for c in (
            Contributor("k2"),  # email preferred, consent withdrawn
            Contributor("k3"),  # sms, granted
            Contributor("k4", "mastodon", "kfour"),  # prefers social
            Contributor(None, "bluesky", "stranger"),  # only a handle
        ):
            other = ideas.submit(s, "Larger battery please", actor="x", contributor=c)
            ideas.merge(s, other.id, i.id, "x")
        with pytest.raises(IdeaError, match="public reason"):
            ideas.set_status(s, i.id, "shipped", "  ", "agent@x.io", _route(rm))
        notes = ideas.set_status(
            s, i.id, "shipped", f"In version 2.1 {'<b>'}", "agent@x.io", _route(rm)
        )
        got = {(n.recipient, n.channel, n.status) for n in notes}
        event = s.scalar(select(WebhookEvent))
    assert got == {
        ("k1", "email", "queued"),
        ("k2", None, "suppressed"),
        ("k3", "sms", "queued"),
        ("mastodon:@kfour", "social", "queued"),
        ("bluesky:@stranger", "social", "queued"),
    }
    assert event.type == "idea.status_changed"
    assert event.payload["status"] == "shipped" and event.payload["old_status"] == "new"
    assert "shipped" in notes[0].message and "2.1" in notes[0].message


def test_unknown_status_and_self_merge_are_refused(world) -> None:
    db, rm = world
    with db.session() as s:
        i = ideas.submit(s, "Thing", actor="x")
        with pytest.raises(IdeaError, match="unknown status"):
            ideas.set_status(s, i.id, "done", "why", "x", _route(rm))
        with pytest.raises(IdeaError, match="itself"):
            ideas.merge(s, i.id, i.id, "x")


def test_feedback_request_records_answer_and_turns_improvement_into_idea(world) -> None:
    db, _ = world
    with db.session() as s:
        r = feedback.request(s, "k1", "Aurora lamp v2", "marketer@x.io")
        assert r.status == "sent"
        feedback.answer(s, r.id, "the warm light", "a longer cable", "marketer@x.io")
        idea = ideas.get(s, r.idea_id)
        assert idea.source == "feedback" and idea.highlighted
        assert "longer cable" in idea.title
        assert [c.customer_id for c in ideas.contributors(s, idea.id)] == ["k1"]
        with pytest.raises(IdeaError, match="already answered"):
            feedback.answer(s, r.id, "", "", "x")


def test_pipeline_step_proposes_ideas_once(tmp_path) -> None:
    from socialcrm.config import Settings
    from socialcrm.pipeline import run_pipeline
    from socialcrm.store.workspace import Workspace
    from tests.collaborating.conftest import build

    build(tmp_path / "warehouse")
    with Workspace.open(Settings(home=tmp_path)) as ws:
        (first,) = run_pipeline(ws, only=["ideas"])
        (again,) = run_pipeline(ws, only=["ideas"])
    assert first.written == {"ideas_proposed": 2}
    assert again.written == {"ideas_proposed": 0}


def test_social_notifications_go_through_the_inbox_outbox(world) -> None:
    from socialcrm.appdb.models import OutboxItem

    db, rm = world
    with db.session() as s:
        ideas.sync(s, rm, 10_000)
        idea_id = s.scalar(select(Idea.id).where(Idea.source_key == "post:bluesky:p2"))
        ideas.confirm(s, idea_id, "agent@x.io")
        (note,) = ideas.set_status(s, idea_id, "declined", "Not for lamps", "a", _route(rm))
        ideas.set_status(s, idea_id, "under_review", "Second look", "a", _route(rm))
        items = list(s.scalars(select(OutboxItem).order_by(OutboxItem.id)))
    assert (note.channel, note.recipient) == ("social", "bluesky:@stranger")
    assert [(i.connector, i.in_reply_to) for i in items] == [("bluesky", "p2")] * 2
    assert items[0].body.startswith("@stranger Your idea") and "Not for lamps" in items[0].body
    assert f"outbox item {items[0].id}" in note.reason
