"""Why is this image labelled so? ``python -m tol10m_assets.explain ID``

ID is a ``treeoflife_id`` (or a shard member of it: ``<id>.jpg``) or a source file / member name (``123_456_eol-full-size-copy.jpg``,
``image_set_01.tar.gz:123_456_eol-full-size-copy.jpg``, ``train/<class dir>/<file>.jpg``,
``part7/<file>.jpg``, or a bare file name). For each matching image it prints the seven ranks and
the common name, each with the file and 1-based line that gave it (and that line), the caption,
and the upgrade steps. It reads the build's outputs (``metadata/mapping.parquet``,
``metadata/labels.parquet``) and the name sources; pure core, no Dagster.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from tol10m_assets.layout import SourceLayout
from tol10m_assets.paths import SOURCES_ROOT_ENV, BuildPaths, default_data_root
from tol10m_assets.taxonomy.taxon import RANKS, Taxon, captions

_WHERE = re.compile(r"^(?P<file>[^:\s][^:]*):(?P<line>\d+)(?P<rest>.*)$")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_MEMBER = re.compile(rf"(?P<id>{_UUID.pattern})(\.[a-z_]+)*")
MAX_MATCHES = 5


class NotFound(LookupError):
    pass


@dataclass
class Explanation:
    treeoflife_id: str
    image: dict  # the mapping row
    ranks: list[str]  # output values, kingdom … species
    common: str  # as in captions and the catalog
    common_looked_up: bool
    provenance: dict[str, str]
    source_lines: dict[str, str] = field(default_factory=dict)  # "file:line" → the line's text
    upgrade_steps: list[str] = field(default_factory=list)


def find_images(paths: BuildPaths, ident: str) -> list[dict]:
    """Mapping rows whose treeoflife_id is ``ident``, or whose source origin is or ends with it."""
    if not paths.mapping.exists():
        raise NotFound(f"no mapping at {paths.mapping}: build `mapping` first, or pass --data-root")
    con = duckdb.connect()
    try:
        query = "SELECT * FROM read_parquet(?) WHERE "
        member = _MEMBER.fullmatch(ident.strip().lower())  # an id, or a shard member: <id>.jpg, <id>.sci.txt
        rows = con.execute(query + "treeoflife_id = ?", [str(paths.mapping), member["id"]]).df() if member else []
        if not len(rows) and not _UUID.fullmatch(ident.lower()):  # a source name (iNat21 files are <uuid>.jpg)
            name = ident.strip()
            rows = con.execute(query + "origin = ? OR ends_with(origin, ':' || ?) OR ends_with(origin, '/' || ?) ORDER BY origin LIMIT ?",
                               [str(paths.mapping), name, name, name, MAX_MATCHES + 1]).df()
    finally:
        con.close()
    if not len(rows):
        raise NotFound(f"no image with treeoflife_id or source name {ident!r} in {paths.mapping}")
    return [{k: (None if _isna(v) else v) for k, v in row.items()} for row in rows.to_dict("records")]


def _isna(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or an array: not a missing scalar
        return False


def _label(paths: BuildPaths, treeoflife_id: str) -> dict | None:
    if not paths.labels.exists():
        raise NotFound(f"no labels at {paths.labels}: build `labels` first")
    con = duckdb.connect()
    try:
        rows = con.execute("SELECT * FROM read_parquet(?) WHERE treeoflife_id = ?", [str(paths.labels), treeoflife_id]).df()
    finally:
        con.close()
    return rows.to_dict("records")[0] if len(rows) else None


def read_lines(path: Path, wanted: set[int]) -> dict[int, str]:
    """The text of the wanted 1-based lines of ``path`` (one pass, stops after the last)."""
    out: dict[int, str] = {}
    if not wanted or not path.is_file():
        return out
    last = max(wanted)
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number in wanted:
                out[number] = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if number >= last:
                break
    return out


def source_lines(layout: SourceLayout, provenance: dict[str, str]) -> dict[str, str]:
    """"file:line" → that line of the source file, for every citation of a CSV/TSV source."""
    files = {p.name: p for _, p in layout.items()}
    wanted: dict[str, set[int]] = {}
    for where in provenance.values():
        m = _WHERE.match(where)
        if m and m["file"] in files:
            wanted.setdefault(m["file"], set()).add(int(m["line"]))
    out = {}
    for name, lines in wanted.items():
        found = bioscan_records(files[name], lines) if files[name] == layout.bioscan_metadata else read_lines(files[name], lines)
        for number, text in found.items():
            out[f"{name}:{number}"] = text
    return out


def bioscan_records(path: Path, wanted: set[int]) -> dict[int, str]:
    """The BIOSCAN records that start on the wanted lines, as compact JSON (streamed, stops early)."""
    from tol10m_assets.taxonomy.bioscan import iter_json_array

    out: dict[int, str] = {}
    if not path.is_file():
        return out
    keys = ("image_file", "chunk_number", "order", "family", "genus", "species")
    for where, record in iter_json_array(path):
        if where.line in wanted and isinstance(record, dict):
            out[where.line] = json.dumps({k: record.get(k) for k in keys}, ensure_ascii=False)
        if where.line >= max(wanted):
            break
    return out


def upgrade_steps(layout: SourceLayout, ranks: list[str], provenance: dict[str, str]) -> list[str]:
    """Replay the upgrade from the ranks the source gave (the label without its upgraded ranks)."""
    upgraded = [r for r in RANKS if "(upgraded from" in provenance.get(r, "") or provenance.get(r) == "special case"]
    if not upgraded:
        return ["none: every rank comes from the image's own source"]
    from tol10m_assets.taxonomy.resolve import _upgrader

    before = Taxon(*(v if r not in upgraded else "" for r, v in zip(RANKS, ranks)))
    steps: list[str] = [f"before: {before.tagged or '(empty)'}"]
    after, _ = _upgrader(layout).upgrade(before, {}, trace=steps)
    if list(after.as_tuple()) != list(ranks):
        steps.append(f"note: the name sources give {after.tagged} today; the build gave the label above (sources changed since?)")
    return steps


def explain(ident: str, data_root: str | Path, sources_root: str | Path | None = None, width: int = 224, height: int = 224,
            layout: SourceLayout | None = None) -> list[Explanation]:
    paths = BuildPaths(Path(data_root), width, height)
    layout = layout or SourceLayout.under(sources_root or Path(data_root) / "sources")
    out = []
    for image in find_images(paths, ident)[:MAX_MATCHES]:
        label = _label(paths, image["treeoflife_id"])
        if label is None:
            out.append(Explanation(image["treeoflife_id"], image, [""] * 7, "", False, {}, upgrade_steps=["no label row: build `labels` again"]))
            continue
        ranks = ["" if _isna(label[c]) else str(label[c]) for c in ("kingdom", "phylum", "class", "order", "family", "genus", "species")]
        provenance = json.loads(label["provenance"] or "{}")
        if "lookup" in provenance or "table" in provenance:  # label_source published / table: one entry or row
            out.append(_from_entry(image, ranks, label, provenance, layout))
            continue
        out.append(Explanation(image["treeoflife_id"], image, ranks, str(label["common"] or ""), bool(label["common_looked_up"]), provenance,
                               source_lines(layout, provenance), upgrade_steps(layout, ranks, provenance)))
    return out


def _from_entry(image: dict, ranks: list[str], label: dict, provenance: dict, layout: SourceLayout) -> Explanation:
    """A label from a published name lookup (``{"lookup": file, "key": k}``) or a label table
    (``{"table": file, "row": n}``): every rank and the common name cite that entry, shown once."""
    if "lookup" in provenance:
        where = f'{provenance["lookup"]}["{provenance["key"]}"]'
        files = {p.name: p for _, p in layout.items()}
        text = lookup_entry(files.get(provenance["lookup"]), str(provenance["key"]))
        steps = ["none: the published name lookup gives the label (label_source: published)"]
    else:
        where, text = f'{provenance["table"]} row {provenance["row"]}', ""
        steps = ["none: the label table gives the label (label_source: table)"]
    cited = {r: where for r, v in zip(RANKS, ranks) if v}
    if label["common_looked_up"]:
        cited["common"] = where
    return Explanation(image["treeoflife_id"], image, ranks, str(label["common"] or ""), bool(label["common_looked_up"]), cited,
                       {where: text} if text else {}, steps)


def lookup_entry(path: Path | None, key: str) -> str:
    """The JSON value of ``key`` in a name lookup file ('' when the file or the key is not there)."""
    if path is None or not path.is_file():
        return ""
    con = duckdb.connect()
    try:
        row = con.execute("SELECT value FROM json_each((SELECT content FROM read_text(?))) WHERE key = ?", [str(path), key]).fetchone()
    finally:
        con.close()
    return str(row[0]) if row else ""


def _source_of(image: dict) -> str:
    ids = {"eol": ("eol_content_id", "eol_page_id"), "inat21": ("inat21_cls_num", "inat21_filename"), "bioscan": ("bioscan_part", "bioscan_filename")}
    parts = [f"{k.split('_', 1)[1]} {image[k]}" for k in ids.get(image["source"], ()) if image.get(k) is not None]
    return f"{image['origin']}  ({', '.join(parts)})"


def render(e: Explanation) -> str:
    lines = [f"{e.treeoflife_id}  {e.image['source']}, partition {e.image['partition']}", f"  source   {_source_of(e.image)}", ""]
    taxon = Taxon(*e.ranks)
    if taxon.is_empty:
        lines.append("  no rank is known: the image is skipped (no_taxon)")
    width = max([len(v) for v in e.ranks] + [len(e.common), 5])
    shown: set[str] = set()
    for rank, value in zip(RANKS, e.ranks):
        lines.extend(_row(rank, value or "-", e.provenance.get(rank, "" if not value else "(no provenance)"), width, e.source_lines, shown))
    common_from = e.provenance.get("common", "") if e.common_looked_up else "none looked up: " + ("the scientific name" if taxon.scientific else "the taxonomic name")
    lines.extend(_row("common", e.common or "-", common_from, width, e.source_lines, shown))
    if not taxon.is_empty:
        lines += ["", f"  caption  {captions(taxon, e.common if e.common_looked_up else '')['taxonTag_com.txt']}"]
    lines += ["", "  upgrade steps"] + [f"    {s}" for s in e.upgrade_steps]
    return "\n".join(lines)


def _row(name: str, value: str, where: str, width: int, texts: dict[str, str], shown: set[str]) -> list[str]:
    """One rank: value and citation, then the cited line the first time it is cited."""
    row = [f"  {name:<8} {value:<{width}}  {where}"]
    m = _WHERE.match(where)
    key = f"{m['file']}:{m['line']}" if m else where
    if key in texts and key not in shown:
        shown.add(key)
        text = texts[key].replace("\t", " | ")
        label = f"line {m['line']}" if m else "entry"
        row.append(f"  {'':<8} {'':<{width}}    {label}: {text[:200]}{'…' if len(text) > 200 else ''}")
    return row


def main(argv: list[str] | None = None, layout: SourceLayout | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tol10m_assets.explain", description="Why is this image labelled so?")
    parser.add_argument("id", help="a treeoflife_id (or a shard member: <id>.jpg), or a source file / member name")
    parser.add_argument("--data-root", default=None, help=f"where the build wrote (default: $TOL10M_DATA_ROOT or {default_data_root()})")
    parser.add_argument("--sources-root", default=None, help=f"where the raw inputs live (default: ${SOURCES_ROOT_ENV} or <data root>/sources)")
    parser.add_argument("--width", type=int, default=224)
    parser.add_argument("--height", type=int, default=224)
    args = parser.parse_args(argv)
    data_root = args.data_root or default_data_root()
    sources_root = args.sources_root or os.environ.get(SOURCES_ROOT_ENV) or str(Path(data_root) / "sources")
    try:
        found = explain(args.id, data_root, sources_root, args.width, args.height, layout=layout)
    except NotFound as exc:
        print(f"explain: {exc}", file=sys.stderr)
        return 2
    print("\n\n".join(render(e) for e in found))
    if len(found) == MAX_MATCHES:
        print(f"\n(at most {MAX_MATCHES} matches are shown: give more of the name)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
