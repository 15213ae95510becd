from pathlib import Path

from socialcrm.store.readers import read_chunks


def _write(tmp_path: Path, text: str, name: str = "f.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_broken_quote_costs_only_its_own_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'a,b,c\n1,"open,2\n3,4,5\n6,"q"z,7\n8,9,10\n\n11,12\n13,"multi\nline",14\n'
        '15,"never closed,12\n16,1,2\n',
    )
    names, chunks = read_chunks(path, "csv")
    assert names == ["a", "b", "c"]
    (chunk,) = list(chunks)
    assert chunk.lines == [3, 5, 8, 11]
    assert chunk.columns["a"] == ["3", "8", "13", "16"]
    assert chunk.columns["b"][2] == "multi\nline"
    assert chunk.raw[2] == '13,"multi\nline",14'
    rejected = {line: reason for line, reason, _ in chunk.structural}
    assert sorted(rejected) == [2, 4, 7, 10]
    assert "quote" in rejected[2] and "never closed" in rejected[10]
    assert rejected[7] == "expected 3 fields, found 2"


def test_semicolon_csv_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes("\ufeffA;B\n1;2\n3;4\n".encode())
    names, chunks = read_chunks(path, "csv")
    assert names == ["a", "b"]
    assert next(chunks).columns == {"a": ["1", "3"], "b": ["2", "4"]}


def test_jsonl_structural_rejects(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '{"a": 1, "b": true}\nnot json\n[1, 2]\n{"a": {"x": 1}}\n\n{"a": null, "c": "x"}\n',
        "f.jsonl",
    )
    _names, chunks = read_chunks(path, "jsonl")
    (chunk,) = list(chunks)
    assert chunk.lines == [1, 6]
    assert chunk.columns == {"a": ["1", None], "b": ["true", None], "c": [None, "x"]}
    assert [line for line, _, _ in chunk.structural] == [2, 3, 4]
