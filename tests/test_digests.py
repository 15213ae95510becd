"""The digests that guard refactorings notice a changed row and ignore float noise."""

from __future__ import annotations

import pyarrow as pa

from tests.digests import differences, table_digest


def _digest(ids: list[str], scores: list[float]) -> dict[str, object]:
    return table_digest(pa.table({"customer_id": ids, "score": scores}), "t")


def test_a_changed_value_is_found_and_float_noise_is_not() -> None:
    base = {"t": _digest(["a", "b", "c"], [0.1, 79.67125, 3.0])}
    noise = {"t": _digest(["c", "a", "b"], [3.0, 0.1, 79.67125 + 1e-12])}
    assert differences(base, noise) == {}  # row order and the last bits do not matter
    moved = {"t": _digest(["a", "b", "c"], [0.1, 79.67, 3.0])}
    assert "score" in differences(base, moved)["t"]
    renamed = {"t": _digest(["a", "b", "d"], [0.1, 79.67125, 3.0])}
    assert "exact columns differ" in differences(base, renamed)["t"]
    assert differences(base, {}) == {"t": "missing now"}
    assert differences({}, base) == {"t": "new table"}
