"""Signed link tokens: one purpose each, one workspace key, no expiry, no open redirect."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from socialcrm.config import Settings
from socialcrm.outbound import tokens
from socialcrm.web.security import secret_key


def test_the_workspace_key_is_made_once_private_and_shared_with_the_web_app(
    tmp_path: Path,
) -> None:
    first = tokens.workspace_secret(tmp_path, None)
    assert tokens.workspace_secret(tmp_path, None) == first == secret_key(tmp_path, None)
    assert stat.S_IMODE(os.stat(tmp_path / ".web-secret").st_mode) == 0o600
    assert tokens.workspace_secret(tmp_path, "configured") == "configured"


def test_a_link_made_by_one_process_is_read_by_another_of_the_same_workspace(
    tmp_path: Path,
) -> None:
    worker = Settings(home=tmp_path, public_url="https://crm.example/")
    url = tokens.click_url(worker, "spring", "c1", "https://shop.example/a?b=1")
    assert url.startswith("https://crm.example/email/click/")  # no double slash
    web = tokens.Tokens(secret_key(tmp_path, None))  # the web app's key, read from the file
    assert web.read("click", url.rsplit("/", 1)[1]) == [
        "spring",
        "c1",
        "https://shop.example/a?b=1",
    ]
    other = tokens.Tokens(tokens.workspace_secret(tmp_path / "other", None))
    with pytest.raises(tokens.TokenError):
        other.read("click", url.rsplit("/", 1)[1])


def test_purposes_do_not_mix_and_tokens_carry_no_expiry() -> None:
    t = tokens.Tokens("k" * 40)
    made = {p: t.make(p, ["spring", "c1"]) for p in tokens.PURPOSES}
    assert len(set(made.values())) == 3  # the same facts sign differently per purpose
    for p, token in made.items():
        assert t.read(p, token) == ["spring", "c1"]
        for q in tokens.PURPOSES:
            if q != p:
                with pytest.raises(tokens.TokenError):
                    t.read(q, token)
    # the same facts always give the same token: nothing in it ages (RFC 8058's 60 days
    # and more), so a link from an old email still unsubscribes
    assert t.make("unsubscribe", ["spring", "c1"]) == made["unsubscribe"]
    for junk in ("", ".", "a.b", "x" * 5000, made["click"] + "x"):
        with pytest.raises(tokens.TokenError):
            t.read("click", junk)


def test_links_need_the_public_url(tmp_path: Path) -> None:
    with pytest.raises(tokens.TokenError, match="SOCIALCRM_PUBLIC_URL"):
        tokens.unsubscribe_url(Settings(home=tmp_path), "spring", "c1")
