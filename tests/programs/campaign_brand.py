"""A small scored brand (300 people) and a real SMTP server, for the campaign send tests.

The brand is generated, loaded and scored once per run (a module-level cache, shared by
tests/programs and tests/cli); each test gets a private copy of its workspace, since
sending writes to it. The SMTP server is aiosmtpd on a free local port: every message
the code under test sends goes through a real SMTP conversation and is kept, whole.
"""

from __future__ import annotations

import email
import email.policy
import shutil
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from importlib.resources import files
from pathlib import Path

from aiosmtpd.controller import Controller

from socialcrm.config import Settings
from socialcrm.store.workspace import Workspace
from tests.ports import free_port

CUSTOMERS = 300
SEED = 5
STEPS = [
    "identities",
    "rfm",
    "transaction_scores",
    "relationship",
    "trinity",
    "segments",
    "actions",
]
_CACHE: dict[str, Path] = {}


def scored_home(root: Path) -> Path:
    """The scored brand's workspace folder (built on the first call only)."""
    if "home" in _CACHE:
        return _CACHE["home"]
    from socialcrm.demo import LOAD_ORDER
    from socialcrm.pipeline import run_pipeline
    from socialcrm.store.ingest import ingest_file
    from socialcrm.synth.brand import generate_brand

    files_ = generate_brand(root / "brand", customers=CUSTOMERS, seed=SEED)
    home = root / "ws"
    with Workspace.open(Settings(home=home, phone_region="DE")) as ws:
        for table in LOAD_ORDER:
            ingest_file(ws, table, files_.inputs[table])
        run_pipeline(ws, STEPS)
    # the product catalogue beside it, where listening (and personalisation) look for it
    shutil.copy(str(files("socialcrm.synth").joinpath("catalogue.json")), home / "catalogue.json")
    _CACHE["home"] = home
    return home


def copy_home(root: Path, to: Path) -> Path:
    shutil.copytree(scored_home(root), to)
    return to


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Sink:
    """What the SMTP server received, in order."""

    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"

    def recipients(self) -> list[str]:
        with self.lock:
            return [r.lower() for m in self.messages for r in m.rcpt_tos]

    def to(self) -> list[str]:
        """The ``To`` headers received, sorted."""
        with self.lock:
            return sorted(str(m.message["To"]) for m in self.messages)


class SmtpServer:
    """aiosmtpd on 127.0.0.1 and a free port, for the length of a ``with`` block."""

    def __init__(self) -> None:
        self.sink = Sink()
        self.port = free_port()
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?from=news@nordlicht.example"
