"""The customer 360 tells a person's id history and household in words."""

from __future__ import annotations

import re
from contextlib import closing

from socialcrm.store.reads import ReadModel
from socialcrm.web import views
from tests.web.conftest import HOUSEHOLD_ADDRESS, Site, sign_in


def _text(html: str, card: str) -> str:
    """The words of one card of a page (tags dropped, spaces collapsed)."""
    found = re.search(rf'<div class="card" id="{card}">(.*?)</div>', html, re.S)
    assert found, card
    words = re.sub(r"<[^>]+>", " ", found.group(1))
    return re.sub(r"\s+", " ", words).replace(" )", ")").strip()


def test_the_360_shows_merges_splits_and_the_household(family_site: Site) -> None:
    with closing(sign_in(family_site.url, "analyst@test.io")) as c:
        page = c.get("/customers/c000").text
        history = _text(page, "id-history")
        assert "merged with customer c020 on 03 Jan 2025 (1 record)" in history
        assert "split: 1 record moved to customer c021 on 07 Jan 2025 after a review" in history
        assert history.index("merged") < history.index("split")  # oldest first
        assert 'href="/customers/c021"' in page
        home = _text(page, "household")
        assert f"3 people at {HOUSEHOLD_ADDRESS} · same address" in home
        # the other members by name, each with a link to their 360; not the person again
        assert "Ada3 Lovelace" in home and "Bob6 Lovelace" in home
        assert 'href="/customers/c003"' in page and 'href="/customers/c006"' in page
        assert "Bob0 Lovelace" not in home
        # the split-off person sees it from their side; a member sees the others
        other = c.get("/customers/c021").text
        assert "split off customer c000 on 07 Jan 2025 with 1 record after a review" in _text(
            other, "id-history"
        )
        assert "Bob0 Lovelace" in _text(c.get("/customers/c003").text, "household")
        # the absorbed record's page shows the person's history and household
        merged = c.get("/customers/c020").text
        assert "merged with customer c020" in _text(merged, "id-history")
        assert "Ada3 Lovelace" in _text(merged, "household")
        # empty states
        alone = c.get("/customers/c010").text
        assert "In no household" in _text(alone, "household")
        assert "No merges or splits" in _text(alone, "id-history")


def test_viewers_see_the_household_address_masked(family_site: Site) -> None:
    with closing(sign_in(family_site.url, "viewer@test.io")) as c:
        home = _text(c.get("/customers/c000").text, "household")
    assert "Lovelace Lane" not in home
    assert "3 people at •••, 10115 Berlin, DE" in home
    assert "Ada3 Lovelace" in home  # names show, as in the page's header


def test_before_resolution_and_households_the_page_says_what_to_run(site: Site) -> None:
    with closing(sign_in(site.url, "analyst@test.io")) as c:
        page = c.get("/customers/c001").text
    assert "Households not computed yet" in _text(page, "household")
    assert "Identity resolution has not run yet" in _text(page, "id-history")


def test_views_without_tables(site: Site) -> None:
    rm = ReadModel(site.settings.warehouse_dir)
    assert views.id_history(rm, "c000", "c000") == []
    assert views.household(rm, "c000", see_contacts=True) is None
