"""Imports and other writers of one table at the same time, in real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from socialcrm.store.workspace import Workspace

HEADER = "order_id,customer_id,email,ordered_at,amount,currency,status,quantity\n"
ROWS = 3000

# Each child opens the workspace, waits for the go file, then does its one job.
IMPORT = """
import json, sys, time
from pathlib import Path
from socialcrm.config import Settings
from socialcrm.store.ingest import ingest_file
from socialcrm.store.workspace import Workspace
home, file, go = sys.argv[1:4]
with Workspace.open(Settings(home=Path(home))) as ws:
    while not Path(go).exists():
        time.sleep(0.002)
    print(json.dumps(ingest_file(ws, "orders", Path(file)).to_json()))
"""
PIPELINE = """
import sys, time
from datetime import UTC, datetime
from pathlib import Path
import pyarrow as pa
from socialcrm.config import Settings
from socialcrm.store.schemas import ORDERS
from socialcrm.store.workspace import Workspace
home, go = sys.argv[1:3]
schema = ORDERS.arrow_schema
with Workspace.open(Settings(home=Path(home))) as ws:
    wh = ws.warehouse
    while not Path(go).exists():
        time.sleep(0.002)
    for batch in range(3):  # read-modify-write the table, three times
        with wh.lock("orders"):
            rows = pa.Table.from_pylist([
                {"order_id": f"p{batch}-{i}", "customer_id": "cp", "amount": 1.0,
                 "ordered_at": datetime(2024, 5, 1, tzinfo=UTC), "currency": "EUR",
                 "status": "completed", "quantity": 1}
                for i in range(20)
            ], schema=schema)
            if wh.exists("orders"):
                rows = pa.concat_tables([wh.read_arrow("orders").cast(schema), rows])
            wh.write("orders", rows)
"""


def _orders_file(path: Path, tag: str) -> Path:
    """ROWS good orders of its own, two bad rows and a repeated key."""
    with open(path, "w") as fh:
        fh.write(HEADER)
        for i in range(ROWS):
            fh.write(
                f"{tag}{i},c{i % 300},,2024-03-{1 + i % 28:02d},{i % 90 + 1}.5,EUR,completed,1\n"
            )
        fh.write(f"{tag}-bad1,c1,,2024-02-30,1,EUR,completed,1\n")
        fh.write(f"{tag}-bad2,c1,,2024-02-01,1,EUR,completed,-3\n")
        fh.write(f"{tag}7,c1,,2024-03-08,99,EUR,completed,1\n")  # repeats line 9
    return path


def test_concurrent_imports_and_a_writer_lose_nothing(ws: Workspace, tmp_path: Path) -> None:
    home = str(ws.settings.home)
    go = tmp_path / "go"
    files = {tag: _orders_file(tmp_path / f"{tag}.csv", tag) for tag in ("x", "y", "z", "w")}
    env = {**os.environ, "SOCIALCRM_HOME": home}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", IMPORT, home, str(files[tag]), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for tag in ("x", "y", "z")
    ]
    procs.append(
        subprocess.Popen(
            [sys.executable, "-c", PIPELINE, home, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
    )
    time.sleep(0.5)  # let them start, then release them together
    go.touch()
    # and the command line, at the same time
    procs.append(
        subprocess.Popen(
            [sys.executable, "-m", "socialcrm.cli", "ingest", "orders", str(files["w"]), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
    )
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
    reports = [json.loads(out) for out, _ in (outputs[0], outputs[1], outputs[2], outputs[4])]
    for r in reports:
        assert (r["accepted"], r["rejected"], r["updated"], r["unchanged"]) == (ROWS, 3, 0, 0)

    wh = ws.warehouse
    ids = wh.read_arrow("orders").column("order_id").to_pylist()
    assert len(ids) == len(set(ids)) == 4 * ROWS + 3 * 20
    expected = {f"{tag}{i}" for tag in "xyzw" for i in range(ROWS)}
    expected |= {f"p{b}-{i}" for b in range(3) for i in range(20)}
    assert set(ids) == expected

    rejects = wh.read_arrow("rejects").to_pylist()
    assert len(rejects) == 4 * 3
    for tag, path in files.items():
        mine = sorted((r["line"], r["raw"]) for r in rejects if r["file"] == str(path.resolve()))
        assert mine == [
            (ROWS + 2, f"{tag}-bad1,c1,,2024-02-30,1,EUR,completed,1"),
            (ROWS + 3, f"{tag}-bad2,c1,,2024-02-01,1,EUR,completed,-3"),
            (ROWS + 4, f"{tag}7,c1,,2024-03-08,99,EUR,completed,1"),
        ]
    log = wh.read_arrow("ingest_log").to_pylist()
    assert sorted(r["file"] for r in log) == sorted(str(p.resolve()) for p in files.values())
    assert {r["accepted"] for r in log} == {ROWS}
