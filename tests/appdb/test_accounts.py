"""Accounts in the app database: migrations, argon2 passwords, hashed tokens, the audit log."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from socialcrm.appdb.accounts import (
    DEMO_ADMIN,
    AccountError,
    authenticate,
    create_token,
    create_user,
    ensure_demo_admin,
    revoke_token,
    set_active,
    set_role,
    token_principal,
)
from socialcrm.appdb.db import AppDB, migrate
from socialcrm.appdb.models import ApiToken, AuditEntry, User

PW = "twelve chars at least"


@pytest.fixture
def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    d = AppDB(f"sqlite:///{tmp_path / 'app.db'}")
    yield d
    d.close()


def _head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from socialcrm.appdb.db import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()  # type: ignore[return-value]


def test_migrations_create_the_schema_once(db: AppDB) -> None:
    tables = set(inspect(db.engine).get_table_names())
    assert {"users", "api_tokens", "audit_log", "alembic_version"} <= tables
    migrate(db.engine)  # a second run is a no-op
    with db.engine.connect() as c:
        assert c.execute(text("select version_num from alembic_version")).scalar() == (
            _head_revision()  # later migrations (0002_programs, …) move the head
        )
        assert c.execute(text("pragma journal_mode")).scalar() == "wal"


def test_passwords_are_argon2_and_checked(db: AppDB) -> None:
    with db.session() as s:
        create_user(s, " Ana@Example.COM ", PW, "analyst")
    with db.session() as s:
        user = s.scalar(select(User))
        assert user.email == "ana@example.com"
        assert user.password_hash.startswith("$argon2id$") and PW not in user.password_hash
        assert authenticate(s, "ana@example.com", PW).role == "analyst"
        assert authenticate(s, "ana@example.com", PW + "x") is None
        assert authenticate(s, "nobody@example.com", PW) is None
        actions = [a.action for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["user.create", "login", "login.failed", "login.failed"]


@pytest.mark.parametrize(
    ("email", "password", "role", "message"),
    [
        ("not-an-email", PW, "viewer", "not an email"),
        ("a@b.io", "short", "viewer", "at least 12"),
        ("a@b.io", PW, "root", "unknown role"),
    ],
)
def test_bad_accounts_are_refused(db: AppDB, email, password, role, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AccountError, match=message), db.session() as s:
        create_user(s, email, password, role)


def test_duplicate_email_is_refused(db: AppDB) -> None:
    with db.session() as s:
        create_user(s, "a@b.io", PW, "viewer")
    with pytest.raises(AccountError, match="already exists"), db.session() as s:
        create_user(s, "A@B.io", PW, "admin")


def test_tokens_are_hashed_scoped_and_revocable(db: AppDB) -> None:
    with db.session() as s:
        create_user(s, "a@b.io", PW, "analyst")
        row, secret = create_token(s, "a@b.io", "sync", "viewer")
        with pytest.raises(AccountError, match="more rights"):
            create_token(s, "a@b.io", "escalate", "admin")
    with db.session() as s:
        stored = s.get(ApiToken, row.id)
        assert secret not in (stored.token_hash, stored.prefix) and len(stored.token_hash) == 64
        assert token_principal(s, secret).role == "viewer"
        assert token_principal(s, secret + "x") is None
        revoke_token(s, row.id, actor="admin@b.io")
    with db.session() as s:
        assert token_principal(s, secret) is None


def test_demoting_or_disabling_a_user_limits_their_tokens(db: AppDB) -> None:
    with db.session() as s:
        create_user(s, "a@b.io", PW, "admin")
        _, secret = create_token(s, "a@b.io", "ops")
        set_role(s, "a@b.io", "agent", actor="boss@b.io")
    with db.session() as s:
        assert token_principal(s, secret).role == "agent"
        set_active(s, "a@b.io", False, actor="boss@b.io")
    with db.session() as s:
        assert token_principal(s, secret) is None
        assert authenticate(s, "a@b.io", PW) is None
        log = {(a.actor, a.action) for a in s.scalars(select(AuditEntry))}
    assert {("boss@b.io", "user.role"), ("boss@b.io", "user.disable")} <= log


def test_demo_admin_is_created_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    email, password = ensure_demo_admin(url)
    assert email == DEMO_ADMIN and len(password) >= 12
    assert ensure_demo_admin(url) is None
    db = AppDB(url)
    with db.session() as s:
        assert authenticate(s, email, password).role == "admin"
    db.close()
