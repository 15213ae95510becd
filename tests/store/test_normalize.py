import pytest

from socialcrm.store import normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Anna.Berg@Example.COM ", "anna.berg@example.com"),
        ("mailto:x@y.de", "x@y.de"),
        ("o'brien+shop@mail.co.uk", "o'brien+shop@mail.co.uk"),
    ],
)
def test_email_normalised(raw: str, expected: str) -> None:
    assert normalize.email(raw) == expected


@pytest.mark.parametrize("raw", ["anna", "anna@", "@x.de", "a b@x.de", "a@x", "a@@x.de"])
def test_email_rejected_with_value_in_reason(raw: str) -> None:
    with pytest.raises(ValueError, match="not a valid email"):
        normalize.email(raw)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("0044 20 7946 0958", "US", "+442079460958"),
        ("030 901820", "DE", "+4930901820"),
        ("(201) 555-0123", "US", "+12015550123"),
        ("06 12 34 56 78", "FR", "+33612345678"),
    ],
)
def test_phone_e164(raw: str, region: str, expected: str) -> None:
    assert normalize.phone(raw, region) == expected


@pytest.mark.parametrize("raw", ["12", "hello", "+49 1"])
def test_phone_rejected(raw: str) -> None:
    with pytest.raises(ValueError, match="phone"):
        normalize.phone(raw, "DE")


@pytest.mark.parametrize(
    ("platform", "raw", "expected"),
    [
        ("twitter", "@Nordlicht_Fan", "nordlicht_fan"),
        ("twitter", "https://x.com/Nordlicht_Fan", "nordlicht_fan"),
        ("instagram", "https://www.instagram.com/anna.berg/", "anna.berg"),
        ("mastodon", "@Anna@Mastodon.Social", "anna@mastodon.social"),
        ("bluesky", "@Anna.bsky.social", "anna.bsky.social"),
        ("linkedin", "https://linkedin.com/in/anna-berg-42", "anna-berg-42"),
    ],
)
def test_handles_per_platform(platform: str, raw: str, expected: str) -> None:
    assert normalize.handle(platform, raw) == expected


@pytest.mark.parametrize(
    ("platform", "raw"), [("twitter", "two words"), ("bluesky", "nodomain"), ("mastodon", "a@b")]
)
def test_bad_handles_rejected(platform: str, raw: str) -> None:
    with pytest.raises(ValueError, match=platform):
        normalize.handle(platform, raw)


def test_identity_value_dispatches_on_kind() -> None:
    assert normalize.identity_value("email", "A@B.de") == "a@b.de"
    assert normalize.identity_value("phone", "+33 6 12 34 56 78") == "+33612345678"
    assert normalize.identity_value("loyalty_id", "nl-0042 1337") == "NL00421337"
    assert normalize.identity_value("twitter", "@Anna") == "anna"
