"""The BIOSCAN metadata is streamed: the same records as ``json.load``, whatever the layout of the
text and wherever the read blocks cut it."""

import json
import random

import pytest

from tol10m_assets.taxonomy.bioscan import iter_json_array, read_bioscan_metadata


def records(n, seed=0):
    rng = random.Random(seed)
    words = ["Diptera", "not_classified", "Cecidomyiidae", "Lépidoptère", "日本", "a\"b", "x\\y", "line\nbreak"]
    return [{"image_file": f"{rng.getrandbits(32):08x}_{i}.jpg", "chunk_number": 1 + i % 113, "order": rng.choice(words),
             "family": rng.choice(words), "genus": rng.choice(words), "species": rng.choice(words), "nucraw": "ACGT" * rng.randint(0, 40),
             "coords": [rng.random(), None, True], "nested": {"k": [1, {"z": 2.5e-3}]}} for i in range(n)]


@pytest.mark.parametrize("indent, block", [(None, 7), (None, 1 << 20), (1, 13), (4, 4096), ("\t", 100)])
def test_streaming_equals_json_load(tmp_path, indent, block):
    data = records(400, seed=block)
    path = tmp_path / "meta.jsonld"
    path.write_text(json.dumps(data, indent=indent, ensure_ascii=False) + "\n\n", encoding="utf-8")
    out = list(iter_json_array(path, block=block))
    assert [v for _, v in out] == json.loads(path.read_text(encoding="utf-8"))
    assert [w.record for w, _ in out] == list(range(1, 401))
    text = path.read_text(encoding="utf-8")
    for where, value in out[::37]:  # each record starts on its line
        start = text.split("\n")[where.line - 1]
        assert start.strip().startswith("{") or indent is None


def test_bioscan_reader_gives_the_same_rows_as_the_whole_file_parse(tmp_path):
    data = records(300)
    path = tmp_path / "meta.jsonld"
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    rows = list(read_bioscan_metadata(path))
    assert [(p, f) for p, f, _, _ in rows] == [(int(r["chunk_number"]), r["image_file"]) for r in data]
    assert [w.record for *_, w in rows] == list(range(1, 301))


def test_an_empty_list_and_a_bom(tmp_path):
    path = tmp_path / "meta.jsonld"
    path.write_bytes(b"\xef\xbb\xbf [ ]\n")
    assert list(iter_json_array(path)) == []
