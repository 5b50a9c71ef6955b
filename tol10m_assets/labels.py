"""Labels: the seven ranks and the common name of every image, with provenance.

Runs the taxonomy façades once per source over the keys the mapping needs (EOL page ids, iNat21
classes, BIOSCAN images) and joins the answers onto the mapping. No Dagster imports.
"""

from __future__ import annotations

import json

import pandas as pd

from tol10m_assets.layout import SourceLayout

RANK_COLUMNS = ["kingdom", "phylum", "class", "order", "family", "genus", "species"]
LABEL_COLUMNS = ["treeoflife_id", *RANK_COLUMNS, "common", "common_looked_up", "provenance"]


def _named_rows(named) -> dict:
    from tol10m_assets.taxonomy import display_common

    ranks = named.taxon.as_tuple()
    return {
        **dict(zip(RANK_COLUMNS, ranks)),
        "common": display_common(named.taxon, named.common),
        "common_looked_up": bool(named.common),
        "provenance": json.dumps(named.provenance, sort_keys=True, ensure_ascii=False),
    }


def _lookup_frame(keys: list[str], table: dict) -> pd.DataFrame:
    rows = []
    for key, named in table.items():
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        row.update(_named_rows(named))
        rows.append(row)
    return pd.DataFrame(rows, columns=[*keys, *LABEL_COLUMNS[1:]])


def resolve_lookups(layout: SourceLayout, mapping: pd.DataFrame, log=print) -> dict[str, pd.DataFrame]:
    """One lookup table per source present in the mapping, keyed as the source names its images."""
    from tol10m_assets.taxonomy import resolve_bioscan, resolve_eol, resolve_inat21

    out: dict[str, pd.DataFrame] = {}
    eol = mapping[mapping["source"] == "eol"]
    if len(eol):
        pages = sorted(set(int(p) for p in eol["eol_page_id"].dropna()))
        log(f"resolving {len(pages)} EOL pages")
        out["eol"] = _lookup_frame(["eol_page_id"], resolve_eol(layout, pages))
    inat = mapping[mapping["source"] == "inat21"]
    if len(inat):
        classes = inat[["inat21_cls_num", "inat21_cls_name"]].drop_duplicates()
        dirs = sorted(f"{int(n):05d}_{name}" for n, name in classes.itertuples(index=False))
        log(f"resolving {len(dirs)} iNat21 classes")
        out["inat21"] = _lookup_frame(["inat21_cls_num"], resolve_inat21(layout, dirs))
    bio = mapping[mapping["source"] == "bioscan"]
    if len(bio):
        log("resolving BIOSCAN records")
        table = resolve_bioscan(layout)
        wanted = set(zip(bio["bioscan_part"].astype(int), bio["bioscan_filename"].astype(str)))
        out["bioscan"] = _lookup_frame(["bioscan_part", "bioscan_filename"], {k: v for k, v in table.items() if k in wanted})
    for frame in out.values():
        for col in frame.columns:
            if col in ("eol_page_id", "inat21_cls_num", "bioscan_part"):
                frame[col] = frame[col].astype("Int64")
    return out


def join_labels(mapping: pd.DataFrame, lookups: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One label row per mapped image; images no lookup knows get empty ranks (skipped as no_taxon)."""
    keys = {"eol": ["eol_page_id"], "inat21": ["inat21_cls_num"], "bioscan": ["bioscan_part", "bioscan_filename"]}
    parts = []
    for source, key in keys.items():
        sub = mapping.loc[mapping["source"] == source, ["treeoflife_id", *key]]
        if not len(sub):
            continue
        table = lookups.get(source)
        if table is None:
            table = pd.DataFrame(columns=[*key, *LABEL_COLUMNS[1:]])
        if "bioscan_filename" in key:
            table = table.astype({"bioscan_filename": "string"})
            sub = sub.astype({"bioscan_filename": "string"})
        parts.append(sub.merge(table, on=key, how="left")[LABEL_COLUMNS])
    labels = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=LABEL_COLUMNS)
    for col in [*RANK_COLUMNS, "common", "provenance"]:
        labels[col] = labels[col].fillna("").astype("string")
    labels["common_looked_up"] = labels["common_looked_up"].fillna(False).astype(bool)
    return labels.sort_values("treeoflife_id", kind="stable").reset_index(drop=True)


def complete_share(labels: pd.DataFrame, mapping: pd.DataFrame) -> dict[str, float]:
    """Per source, the share of images with all seven ranks."""
    merged = labels.merge(mapping[["treeoflife_id", "source"]], on="treeoflife_id")
    complete = (merged[RANK_COLUMNS] != "").all(axis=1)
    return {s: round(float(complete[merged["source"] == s].mean()), 4) for s in sorted(merged["source"].unique())}
