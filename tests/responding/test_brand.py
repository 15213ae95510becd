"""Which accounts are the brand's own: the settings, else the workspace catalogue."""

from __future__ import annotations

import json
from pathlib import Path

from socialcrm.config import Settings
from socialcrm.responding.inbox import Brand, catalogue_handles


def _catalogue(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    doc = {
        "brand": {
            "name": "Acme",
            "handles": {"twitter": "acme", "mastodon": "acme@m.social", "bluesky": ""},
        }
    }
    (home / "catalogue.json").write_text(json.dumps(doc))


def test_unset_settings_take_the_catalogue_accounts(tmp_path: Path) -> None:
    _catalogue(tmp_path)
    brand = Brand.from_settings(Settings(_env_file=None, home=tmp_path))
    assert brand.owns("twitter", "@Acme") and brand.owns("mastodon", "acme@m.social")
    assert not brand.owns("twitter", "acme@m.social")  # per network, as the catalogue says
    assert not brand.owns("bluesky", "")  # an empty entry names nobody
    assert catalogue_handles(Settings(home=tmp_path)) == ["mastodon:acme@m.social", "twitter:acme"]


def test_named_handles_override_the_catalogue(tmp_path: Path) -> None:
    _catalogue(tmp_path)
    brand = Brand.from_settings(Settings(home=tmp_path, inbox_brand_handles="twitter:acme_help"))
    assert brand.owns("twitter", "acme_help") and not brand.owns("twitter", "acme")


def test_no_catalogue_no_extra_accounts(tmp_path: Path) -> None:
    brand = Brand.from_settings(Settings(home=tmp_path))
    assert not brand.owns("twitter", "acme")
    (tmp_path / "catalogue.json").write_text("not json")
    assert catalogue_handles(Settings(home=tmp_path)) == []
