"""The email-blast vs amplifier planner."""

from __future__ import annotations

import pytest

from socialcrm.programs.planner import (
    Amplifiers,
    EmailBlast,
    PlanError,
    compare,
    plan_amplifiers,
    plan_chart,
    plan_email,
)


def test_the_issue_email_example():
    out = plan_email(EmailBlast(1_000_000, 0.06, 0.03, cost_per_email=0.002, baseline_rate=0.25))
    assert out.conversions == pytest.approx(1800)
    assert out.incremental_conversions == pytest.approx(1350)
    assert out.cost == pytest.approx(2000)
    assert out.cost_per_incremental == pytest.approx(2000 / 1350)


def test_amplifier_waves_are_a_geometric_series():
    a = Amplifiers(
        1,
        10_000,
        0.05,
        reamplification_rate=0.01,
        secondary_reach=75,
        conversion_rate=0.02,
        referral_reward=5,
        fee_per_amplifier=100,
        max_waves=50,
    )
    out = plan_amplifiers(a)
    b = 0.05 * 0.01 * 75
    # 10,000 reached; 500 engage; 5 reshare to 75 friends each: 375 more, and so on
    assert out.reach_by_wave[:2] == pytest.approx([10_000, 375])
    assert out.reach == pytest.approx(10_000 / (1 - b), rel=1e-9)
    assert out.engaged == pytest.approx(out.reach * 0.05)
    assert out.cost == pytest.approx(100 + out.conversions * 5)


def test_supercritical_spread_stops_at_the_wave_cap():
    a = Amplifiers(1, 100, 0.5, reamplification_rate=0.5, secondary_reach=10, max_waves=3)
    assert plan_amplifiers(a).reach_by_wave == pytest.approx([100, 250, 625])


def test_rates_out_of_range_are_refused():
    with pytest.raises(PlanError, match="click rate"):
        EmailBlast(10, 1.2, 0.1)
    with pytest.raises(PlanError, match="reach each"):
        Amplifiers(1, -5, 0.1)


def test_chart_is_a_png(tmp_path):
    path = plan_chart(
        compare(EmailBlast(1000, 0.1, 0.1), Amplifiers(2, 500, 0.1)), tmp_path / "p.png"
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
