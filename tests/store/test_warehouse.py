from pathlib import Path

import pyarrow as pa
import pytest

from socialcrm.store.warehouse import POINTER
from socialcrm.store.workspace import Workspace


def test_write_swaps_versions_and_keeps_one_previous(ws: Workspace) -> None:
    wh = ws.warehouse
    for i in range(4):
        assert wh.write("t", pa.table({"x": list(range(i + 1))})) == i + 1
    assert wh.rows("t") == 4
    versions = [p for p in (wh.root / "t").iterdir() if p.name.startswith("v-")]
    assert len(versions) == 2  # current and the one before it, for readers mid-swap
    assert ws.engine.execute(wh.table("t").x.sum()) == 6


def test_failed_write_leaves_the_table_and_no_debris(ws: Workspace) -> None:
    wh = ws.warehouse
    wh.write("t", pa.table({"x": [1, 2]}))
    pointer = (wh.root / "t" / POINTER).read_text()
    with pytest.raises(RuntimeError, match="crash"), wh._writing("t") as new_dir:
        new_dir.mkdir()
        (new_dir / "part-0.parquet").write_bytes(b"half a file")
        raise RuntimeError("crash mid-write")
    assert (wh.root / "t" / POINTER).read_text() == pointer
    assert wh.read_arrow("t").column("x").to_pylist() == [1, 2]
    assert not [p for p in (wh.root / "t").iterdir() if p.name.endswith(".tmp")]


def test_listing_tables_needs_no_engine(ws: Workspace, tmp_path: Path) -> None:
    from socialcrm.store.warehouse import Warehouse

    ws.warehouse.write("a", pa.table({"x": [1, 2, 3]}))
    infos = Warehouse(ws.warehouse.root).tables()
    assert [(i.name, i.rows) for i in infos] == [("a", 3)]
    with pytest.raises(KeyError, match="not in the warehouse"):
        ws.warehouse.table("missing")
