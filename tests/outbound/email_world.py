"""What the email channel's tests share: a workspace with an app database, settings
pointing at an SMTP sink, and a template personalised per person."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from socialcrm.appdb.db import AppDB
from socialcrm.config import Settings
from socialcrm.outbound import mail
from socialcrm.outbound.templates import load_template

NOW = datetime(2026, 12, 1, 9, 0, 0)  # in the past: the delivery loop runs at the real time
PUBLIC = "https://crm.brand.example"
TEMPLATE = """<html><body>
<p>Hello {{ name }},</p>
<p>Thank you for being with us. {{ action }}:
<a href="https://shop.brand.example/loyalty?c={{ customer_id }}&amp;src=email"
  >see your reward</a>.</p>
<p>Questions? <a href="mailto:help@brand.example">Write to us</a>.</p>
</body></html>"""


def settings_for(home: Path, smtp_url: str | None, **kw: Any) -> Settings:
    return Settings(
        home=home,
        smtp_url=smtp_url,
        public_url=PUBLIC,
        web_secret_key="test-secret-key-for-email-links-0123456789",
        email_rate_per_second=0,
        **kw,
    )


@contextmanager
def app_db(home: Path, url: str | None = None) -> Iterator[AppDB]:
    """The app database: a SQLite file in ``home``, or the database at ``url``."""
    db = AppDB(url or f"sqlite:///{home / 'app.db'}")
    try:
        yield db
    finally:
        db.close()


def queue_people(db: AppDB, settings: Settings, people: list[tuple[str, str]],
                 campaign: str = "spring", step: str = "send") -> list[int]:  # fmt: skip
    """Queue the template for each (customer id, address); the outbox ids."""
    t = load_template(TEMPLATE, "A thank-you for {{ name }}")
    ids = []
    with db.session() as s:
        for cid, address in people:
            rendered = t.render({"name": f"Person {cid}", "customer_id": cid,
                                 "action": "Loyalty thanks"})  # fmt: skip
            item = mail.queue_email(s, settings, key=f"{campaign}|{cid}|{step}",
                                    campaign_id=campaign, customer_id=cid, recipient=address,
                                    rendered=rendered, now=NOW)  # fmt: skip
            ids.append(item.id)
    return ids


def fresh_postgres_database(server: str) -> str:
    """A new, empty database on the test cluster ``server``; its URL."""
    name = f"t{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return server.rsplit("/", 1)[0] + f"/{name}"
