"""The EOL licence file with the published columns (``metadata/licenses.csv`` of TreeOfLife-10M):

``treeoflife_id, eol_content_id, eol_page_id, md5, medium_source_url, eol_full_size_copy_url,
license_name, copyright_owner, license_link, title``

Filled from EOL's media manifest (``media_manifest.tgz``: ``EOL content ID, EOL page ID, Medium
Source URL, EOL Full-Size Copy URL, License Name, Copyright Owner``), one row per EOL image of the
catalog. ``md5`` is the MD5 of the full-size image file as downloaded from the EOL full-size copy
URL, i.e. of the member's bytes in ``image_set_NN.tar.gz`` (see docs/labels.md for the evidence);
:func:`eol_image_md5s` computes it from the image sets. ``copyright_owner`` is ``not provided``
where the manifest leaves it empty; ``license_link`` is the Creative Commons URL of a ``cc-*``
licence name, empty otherwise (``No known copyright restrictions`` has none); ``title`` is empty
unless the manifest has a ``Title`` column (EOL's has not). Images the manifest lacks keep every
field after ``eol_page_id`` empty except ``md5``.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Iterable

import pandas as pd

from tol10m_assets.errors import InputFormatError, MissingSourceError
from tol10m_assets.taxonomy.readers import iter_rows

MANIFEST_COLUMNS = {
    "EOL content ID": "eol_content_id",
    "EOL page ID": "eol_page_id",
    "Medium Source URL": "medium_source_url",
    "EOL Full-Size Copy URL": "eol_full_size_copy_url",
    "License Name": "license_name",
    "Copyright Owner": "copyright_owner",
    "License Link": "license_link",  # not in EOL's manifest; used when a manifest has it
    "Title": "title",  # likewise
}
REQUIRED = ["EOL content ID", "EOL page ID", "License Name", "Copyright Owner"]
LICENSE_COLUMNS = ["treeoflife_id", "eol_content_id", "eol_page_id", "md5", "medium_source_url", "eol_full_size_copy_url",
                   "license_name", "copyright_owner", "license_link", "title"]
TEXT_COLUMNS = LICENSE_COLUMNS[3:]
NOT_PROVIDED = "not provided"
_CC = re.compile(r"cc-(by(?:-nc)?(?:-sa|-nd)?)-(\d\.\d)")
_CC_OTHER = {"cc-publicdomain": "https://creativecommons.org/publicdomain/mark/1.0/",
             "cc-zero-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
             "cc0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/"}


def license_link(name: str) -> str:
    """The Creative Commons URL of an EOL licence name (``cc-by-nc-sa-3.0`` →
    ``https://creativecommons.org/licenses/by-nc-sa/3.0/``); "" for anything else."""
    key = name.strip().lower()
    m = _CC.fullmatch(key)
    return f"https://creativecommons.org/licenses/{m.group(1)}/{m.group(2)}/" if m else _CC_OTHER.get(key, "")


def read_media_manifest(path: Path, keep: Iterable[tuple[int, int]] | None = None) -> pd.DataFrame:
    """The manifest's rows (first row per content and page id), columns renamed as published;
    ``keep`` restricts it to those (content id, page id) pairs. A missing column, a bad id, a bad
    byte or a malformed row names the file and its 1-based line.

    Read by Arrow's CSV reader into Arrow strings (memory about the size of the file); the exact
    line of an error is found by a second, streaming pass only when something is wrong."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv as pacsv

    path = Path(path)
    if not path.exists():
        raise MissingSourceError(path, "source_paths.eol_media_manifest", "EOL media manifest")
    header = _header(path)
    present = [c for c in MANIFEST_COLUMNS if c in header]
    try:
        table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 24),
                               parse_options=pacsv.ParseOptions(newlines_in_values=True),
                               convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in header}, strings_can_be_null=False,
                                                                    quoted_strings_can_be_null=False, include_columns=present))
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        _locate_error(path)  # raises with the exact line
        raise InputFormatError(path, f"unreadable CSV ({exc})") from None
    ids = {}
    for col, name in (("EOL content ID", "eol_content_id"), ("EOL page ID", "eol_page_id")):
        text = pc.utf8_trim_whitespace(table[col])
        bad = pc.invert(pc.match_substring_regex(text, r"^[0-9]+$"))
        if pc.any(bad).as_py():
            row = pc.index(bad, True).as_py()
            line = _line_of_row(path, row)
            raise InputFormatError(path, f"{name} is not an integer: {table[col][row].as_py()!r}", line=line)
        ids[name] = pc.cast(text, pa.int64())
    if keep is not None:  # filter in Arrow, before anything is copied into pandas
        key = pc.add(pc.multiply(ids["eol_content_id"], 1 << 32), ids["eol_page_id"])
        wanted = pa.array(sorted({(int(c) << 32) + int(p) for c, p in keep}), type=pa.int64())
        mask = pc.is_in(key, value_set=wanted)
        table, ids = table.filter(mask), {k: v.filter(mask) for k, v in ids.items()}
    frame = pd.DataFrame({**{k: pd.array(v.to_numpy(), dtype="Int64") for k, v in ids.items()},
                          **{MANIFEST_COLUMNS[c]: table[c].to_pandas() for c in present[2:]}})
    del table, ids
    frame = frame.drop_duplicates(["eol_content_id", "eol_page_id"])
    for col in TEXT_COLUMNS[1:]:
        if col not in frame.columns:
            frame[col] = ""
    return frame[["eol_content_id", "eol_page_id", *TEXT_COLUMNS[1:]]].reset_index(drop=True)


def _header(path: Path) -> list[str]:
    """The header row; a missing required column or an empty file names line 1."""
    for _line, row in iter_rows(path, REQUIRED):
        return list(row)
    import csv

    from tol10m_assets.taxonomy.readers import iter_lines

    first = next(csv.reader(iter_lines(path)), [])
    return [h.strip().lstrip("\ufeff") for h in first]


def _locate_error(path: Path) -> None:
    """Stream the file with the exact-line reader; it raises InputFormatError where the file is bad."""
    for _ in iter_rows(path, REQUIRED):
        pass


def _line_of_row(path: Path, index: int) -> int | None:
    for i, (line, _row) in enumerate(iter_rows(path, REQUIRED)):
        if i == index:
            return line
    return None


def eol_image_md5s(layout, mode: str = "generate") -> pd.DataFrame:
    """MD5 of every EOL image's bytes, streamed over the image sets: ``eol_content_id,
    eol_page_id`` (original member names) or ``treeoflife_id`` (published ones), and ``md5``. Reads
    every image set once; a build that already streams them can record the same hash instead."""
    from tol10m_assets.sources.chunks import eol_partition
    from tol10m_assets.sources.images import (
        Chunking,
        eol_image_sets,
        iter_partition_images,
    )

    chunking = Chunking(mode=mode)
    out = []
    for tar_path in eol_image_sets(layout, mode):
        for rec, data in iter_partition_images(layout, chunking, eol_partition(tar_path.name)):
            if rec.bad_name or data is None:
                continue
            raw = data if isinstance(data, bytes) else data.read_bytes()
            out.append((rec.eol_content_id, rec.eol_page_id, rec.published_id, hashlib.md5(raw).hexdigest()))
    frame = pd.DataFrame(out, columns=["eol_content_id", "eol_page_id", "treeoflife_id", "md5"])
    return frame.astype({"eol_content_id": "Int64", "eol_page_id": "Int64"})


def eol_licenses(catalog: pd.DataFrame, manifest: pd.DataFrame, md5s: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per EOL image in the catalog, the published columns. ``manifest`` as from
    :func:`read_media_manifest` (missing columns count as empty); ``md5s`` as from
    :func:`eol_image_md5s`, matched by ``treeoflife_id`` where it has one, else by content and
    page id; without it ``md5`` stays empty."""
    eol = catalog[catalog["eol_content_id"].notna()][["treeoflife_id", "eol_content_id", "eol_page_id"]]
    eol = eol.drop_duplicates("treeoflife_id").astype({"eol_content_id": "Int64", "eol_page_id": "Int64"})
    manifest = manifest.copy()
    for col in TEXT_COLUMNS[1:]:
        if col not in manifest.columns:
            manifest[col] = ""
    manifest = manifest[["eol_content_id", "eol_page_id", *TEXT_COLUMNS[1:]]].astype({"eol_content_id": "Int64", "eol_page_id": "Int64"})
    manifest = manifest.drop_duplicates(["eol_content_id", "eol_page_id"])
    manifest["_listed"] = True
    out = eol.merge(manifest, on=["eol_content_id", "eol_page_id"], how="left")
    listed = out["_listed"].fillna(False).astype(bool)
    for col in TEXT_COLUMNS[1:]:
        out[col] = out[col].fillna("").astype(str)
    owner_missing = listed & (out["copyright_owner"].str.strip() == "")
    out.loc[owner_missing, "copyright_owner"] = NOT_PROVIDED
    no_link = listed & (out["license_link"] == "")
    out.loc[no_link, "license_link"] = out.loc[no_link, "license_name"].map(license_link)
    out["md5"] = _md5_column(out, md5s)
    return out[LICENSE_COLUMNS].sort_values("treeoflife_id").reset_index(drop=True)


def _md5_column(out: pd.DataFrame, md5s: pd.DataFrame | None) -> pd.Series:
    if md5s is None or not len(md5s):
        return pd.Series([""] * len(out), index=out.index, dtype=str)
    by_id = md5s[md5s["treeoflife_id"].notna()] if "treeoflife_id" in md5s.columns else md5s.iloc[0:0]
    by_pair = md5s[md5s["treeoflife_id"].isna()] if "treeoflife_id" in md5s.columns else md5s
    id_map = dict(zip(by_id.get("treeoflife_id", []), by_id.get("md5", [])))
    pair_map = {(int(c), int(p)): m for c, p, m in zip(by_pair.get("eol_content_id", []), by_pair.get("eol_page_id", []), by_pair.get("md5", []))
                if pd.notna(c) and pd.notna(p)}
    values = [id_map.get(t) or pair_map.get((int(c), int(p)), "") for t, c, p in zip(out["treeoflife_id"], out["eol_content_id"], out["eol_page_id"])]
    return pd.Series(values, index=out.index, dtype=str)

