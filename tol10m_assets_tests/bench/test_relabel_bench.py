"""The relabel benchmark's functions at a small size (what ``python -m bench.relabel_bench --quick`` runs)."""

from bench import relabel_bench as rb


def test_relabel_bench_small(tmp_path):
    lines = []
    out = rb.run(tmp_path, images=300, log=lines.append)
    rb.report(out, log=lines.append)
    s = out["scenarios"]["one_name"]
    assert s["byte_identical"], s["differences"][:10]
    assert 0 < s["partitions_rebuilt"] < out["full"]["partitions"]
    assert s["images_decoded"] == 0 and s["images_reused"] > 0
    assert s["ratio_cpu"] < 1 and s["ratio_decoded"] == 0
    t = out["scenarios"]["takedown"]  # 100 ids of 300: most partitions, copied, none decoded
    assert t["byte_identical"], t["differences"][:10]
    assert t["images_decoded"] == 0 and t["images_reused"] > 0 and t["partitions_rebuilt"] > 0
    assert t["taken_down_still_published"] == 0
    text = "\n".join(lines)
    for words in ("partitions rebuilt", "images decoded", "images reused", "wall s", "CPU s", "byte-identical"):
        assert words in text
