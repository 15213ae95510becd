"""Edge lists into diffusion graphs; bad files named by line and field."""

from __future__ import annotations

import numpy as np
import pytest

from socialcrm.programs.diffusion import GraphInputError, build_graph, graph_from_codes, read_edges
from socialcrm.programs.kernels import stable_order
from tests.shared_data import shared_file


def test_weighted_cascade_is_one_over_in_degree():
    g = build_graph(["a", "b", "c", "a"], ["d", "d", "d", "b"], "wc")
    d = g.index_of(["d"])[0]
    probs = g.in_p[g.in_ptr[d] : g.in_ptr[d + 1]]
    assert np.allclose(probs, 1 / 3)
    assert g.in_uniform[d] == pytest.approx(1 / 3)


def test_duplicates_and_self_loops_are_dropped():
    g = build_graph(["a", "a", "b"], ["b", "b", "b"], "ic", p=0.2)
    assert g.m == 1


def test_linear_threshold_weights_sum_to_at_most_one():
    g = build_graph(["a", "b", "c"], ["d", "d", "d"], "lt", weights=[2.0, 1.0, 1.0])
    d = g.index_of(["d"])[0]
    assert g.in_p[g.in_ptr[d] : g.in_ptr[d + 1]].sum() == pytest.approx(1.0)
    assert sorted(g.in_p) == pytest.approx([0.25, 0.25, 0.5])


def test_undirected_edges_go_both_ways():
    g = build_graph([0], [1], "wc", undirected=True)
    assert g.m == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": "ic"}, "needs a probability"),
        ({"model": "ic", "p": 1.5}, "needs a probability"),
        ({"model": "weighted"}, "needs a weight"),
        ({"model": "weighted", "weights": [0.5, 2.0]}, "at most 1"),
        ({"model": "xx"}, "unknown model"),
    ],
)
def test_bad_models_are_refused(kwargs, message):
    with pytest.raises(GraphInputError, match=message):
        build_graph([0, 1], [1, 2], **kwargs)


def test_snap_file_reads(tmp_path):
    g = read_edges(shared_file("graphs", "Wiki-Vote.txt.gz"))
    assert len(g) == 103_689


def test_csv_errors_name_line_and_field(tmp_path):
    f = tmp_path / "e.csv"
    f.write_text("source,target,weight\na,b,0.5\nc,d,lots\n")
    with pytest.raises(GraphInputError, match=r"e.csv: line 3: field 'weight'"):
        read_edges(f)
    f.write_text("from,to\na,b\n")
    with pytest.raises(GraphInputError, match="missing column 'source'"):
        read_edges(f)
    f.write_text("source,target\na,b\n,d\n")
    with pytest.raises(GraphInputError, match="line 3: field 'source' is empty"):
        read_edges(f)


def test_counting_sort_orders_like_a_stable_argsort():
    keys = np.random.default_rng(3).integers(0, 50, 2_000)
    assert np.array_equal(stable_order(keys, 50), np.argsort(keys, kind="stable"))


def test_numbered_edges_merge_repeats_keeping_the_largest_weight():
    labels = np.array(["a", "b", "c"], dtype=object)
    g = graph_from_codes(
        labels, [2, 0, 2, 1, 0], [1, 1, 1, 1, 1], "weighted", weights=[0.2, 0.5, 0.7, 0.9, 0.1]
    )
    assert g.m == 2  # the self-loop 1→1 is dropped, 2→1 and 0→1 merged
    assert list(g.in_src) == [0, 2]  # edges into a node by source number
    assert list(g.in_p) == [0.5, 0.7]
