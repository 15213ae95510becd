"""Proving accounts against recorded Mastodon and Bluesky answers served on loopback."""

from __future__ import annotations

import stat
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from socialcrm.config import Settings
from socialcrm.outbound.urls import ALLOW_HOSTS_ENV, guarded_client
from socialcrm.preferences import proofs
from socialcrm.preferences.proofs import MastodonApps, ProofError, Reach
from tests.preferences.social_world import SocialWorld

REDIRECT = "https://crm.example/preferences/link/mastodon/callback"
DID_A = "did:plc:z72i7hdynmk6r22z27h6tvur"
DID_B = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"


def _sign_in(world: SocialWorld, url: str) -> dict[str, str]:
    """What the person's browser does at the instance: sign in, allow, come back."""
    path = urlsplit(url)
    r = httpx.get(url, follow_redirects=False)
    assert r.status_code == 302, (path.path, r.text)
    back = urlsplit(r.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == REDIRECT
    return {k: v[0] for k, v in parse_qs(back.query).items()}


def test_mastodon_oauth_exchange(world: SocialWorld, settings: Settings) -> None:
    reach = world.reach()
    apps = MastodonApps.of(settings)
    app = apps.get(reach, "mastodon.test", REDIRECT)
    registered = world.calls("/api/v1/apps")
    assert len(registered) == 1
    assert registered[0].form == {
        "client_name": "Preference centre",
        "redirect_uris": REDIRECT,
        "scopes": "read:accounts",
    }
    # kept per instance, private to the workspace's owner, not registered again
    assert apps.get(reach, "mastodon.test", REDIRECT) == app
    assert MastodonApps.of(settings).get(reach, "mastodon.test", REDIRECT) == app
    assert len(world.calls("/api/v1/apps")) == 1
    assert stat.S_IMODE(apps.path.stat().st_mode) == 0o600

    verifier, challenge = proofs.pkce_pair()
    url = proofs.authorize_url(reach, app, "signed-state", challenge)
    q = parse_qs(urlsplit(url).query)
    assert q["scope"] == ["read:accounts"] and q["response_type"] == ["code"]
    assert q["code_challenge_method"] == ["S256"] and q["state"] == ["signed-state"]
    back = _sign_in(world, url)
    assert back["state"] == "signed-state"

    handle = proofs.signed_in_account(reach, app, back["code"], verifier)
    assert handle == "anna@mastodon.test"
    (token_call,) = world.calls("/oauth/token")
    assert token_call.form["grant_type"] == "authorization_code"
    assert token_call.form["code_verifier"] == verifier
    (who,) = world.calls("/api/v1/accounts/verify_credentials")
    token = who.headers["authorization"].removeprefix("Bearer ")
    assert world.revoked == [token]  # the token served once and was given back
    assert world.tokens == {}
    # a code works once
    with pytest.raises(ProofError, match="did not accept the sign-in"):
        proofs.signed_in_account(reach, app, back["code"], verifier)


def test_mastodon_refuses_a_wrong_code_or_verifier(world: SocialWorld, settings: Settings) -> None:
    reach = world.reach()
    app = MastodonApps.of(settings).get(reach, "mastodon.test", REDIRECT)
    with pytest.raises(ProofError, match="did not accept the sign-in"):
        proofs.signed_in_account(reach, app, "not-a-code", "whatever")
    verifier, challenge = proofs.pkce_pair()
    back = _sign_in(world, proofs.authorize_url(reach, app, "s", challenge))
    with pytest.raises(ProofError, match="did not accept the sign-in"):
        proofs.signed_in_account(reach, app, back["code"], verifier + "x")  # PKCE
    assert world.calls("/api/v1/accounts/verify_credentials") == []


def test_mastodon_code_in_profile_field_or_bio(world: SocialWorld) -> None:
    reach = world.reach()
    with pytest.raises(ProofError, match="did not find the code crm-0123456789"):
        proofs.mastodon_has_code(reach, "anna@mastodon.test", "crm-0123456789")
    world.mastodon_fields = [{"name": "Shop", "value": "crm-0123456789", "verified_at": None}]
    proofs.mastodon_has_code(reach, "@Anna@Mastodon.test", "crm-0123456789")
    (lookup,) = world.calls("/api/v1/accounts/lookup")[-1:]
    assert lookup.query == {"acct": "anna"} and lookup.host == "mastodon.test"
    world.mastodon_fields = []
    world.mastodon_note = '<p>hello <span class="h-card">crm-0123456789</span></p>'
    proofs.mastodon_has_code(reach, "anna@mastodon.test", "crm-0123456789")
    with pytest.raises(ProofError, match="knows no account bob"):
        proofs.mastodon_has_code(reach, "bob@mastodon.test", "crm-0123456789")


def test_bluesky_handle_resolution_and_profile_code(world: SocialWorld) -> None:
    reach = world.reach()
    world.handles["anna.bsky.social"] = DID_A
    world.profiles["anna.bsky.social"] = {"did": DID_A, "description": "hi"}
    assert proofs.resolve_handle(reach, "anna.bsky.social") == DID_A
    (call,) = world.calls("/xrpc/com.atproto.identity.resolveHandle")
    assert call.query == {"handle": "anna.bsky.social"}
    with pytest.raises(ProofError, match="did not find the code crm-abcdeabcde"):
        proofs.bluesky_has_code(reach, "anna.bsky.social", "crm-abcdeabcde")
    world.profiles["anna.bsky.social"]["description"] = "Lamps. crm-abcdeabcde"
    assert proofs.bluesky_has_code(reach, "anna.bsky.social", "crm-abcdeabcde") == DID_A
    assert world.calls("/xrpc/app.bsky.actor.getProfile")[-1].query == {"actor": "anna.bsky.social"}


def test_bluesky_refuses_a_profile_of_another_did(world: SocialWorld) -> None:
    reach = world.reach()
    world.handles["anna.bsky.social"] = DID_A
    world.profiles["anna.bsky.social"] = {"did": DID_B, "description": "crm-abcdeabcde"}
    with pytest.raises(ProofError, match="name different accounts"):
        proofs.bluesky_has_code(reach, "anna.bsky.social", "crm-abcdeabcde")


def test_bluesky_well_known_when_the_appview_cannot_resolve(world: SocialWorld) -> None:
    reach = world.reach()
    world.well_known["anna.example.org"] = DID_B + "\n"
    assert proofs.resolve_handle(reach, "anna.example.org") == DID_B
    with pytest.raises(ProofError, match=r"could not find the Bluesky account nobody\.example"):
        proofs.resolve_handle(reach, "nobody.example")
    world.well_known["junk.example"] = "<html>not a did</html>"
    with pytest.raises(ProofError, match="could not find"):
        proofs.resolve_handle(reach, "junk.example")


@pytest.mark.parametrize(
    ("handle", "answers", "why"),
    [
        ("anna@intranet.example", "10.0.0.7", "resolves to 10.0.0.7, a private address"),
        ("anna@cloud.example", "169.254.169.254", "a cloud metadata address"),
        ("anna@metadata.google.internal", "8.8.8.8", "a cloud metadata name"),
        ("anna@home.example", "127.0.0.1", "a loopback address"),
    ],
)
def test_an_instance_on_a_private_address_is_refused(
    handle: str, answers: str, why: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ALLOW_HOSTS_ENV, raising=False)
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return [answers]

    reach = Reach(client=lambda: guarded_client(resolver=resolver))
    _user, instance = proofs.mastodon_account(handle)
    with pytest.raises(ProofError, match=why):
        MastodonApps.of(settings).get(reach, instance, REDIRECT)
    with pytest.raises(ProofError, match=why):
        proofs.mastodon_has_code(reach, handle, "crm-0123456789")
    assert not MastodonApps.of(settings).path.exists()


def test_handles_are_read_as_the_warehouse_spells_them() -> None:
    assert proofs.mastodon_account("https://Mastodon.Test/@Anna") == ("anna", "mastodon.test")
    with pytest.raises(ProofError, match="add your server"):
        proofs.mastodon_account("anna")
    with pytest.raises(ProofError, match="not a valid mastodon handle"):
        proofs.mastodon_account("anna@127.0.0.1")
    assert proofs.bluesky_handle("@Anna.BSKY.social") == "anna.bsky.social"
    with pytest.raises(ProofError, match="not a valid bluesky handle"):
        proofs.bluesky_handle("anna")
