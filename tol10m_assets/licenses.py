"""The EOL licence file: ``treeoflife_id, eol_content_id, eol_page_id, license, owner``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tol10m_assets.errors import InputFormatError, MissingSourceError

MANIFEST_COLUMNS = {
    "EOL content ID": "eol_content_id",
    "EOL page ID": "eol_page_id",
    "License Name": "license",
    "Copyright Owner": "owner",
}
LICENSE_COLUMNS = ["treeoflife_id", "eol_content_id", "eol_page_id", "license", "owner"]


def read_media_manifest(path: Path) -> pd.DataFrame:
    """The manifest's content id, page id, licence and owner; a missing column or a bad id names the file."""
    if not path.exists():
        raise MissingSourceError(path, "source_paths.eol_media_manifest", "EOL media manifest")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputFormatError(path, f"not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    except pd.errors.ParserError as exc:
        raise InputFormatError(path, str(exc)) from exc
    missing = [c for c in MANIFEST_COLUMNS if c not in frame.columns]
    if missing:
        raise InputFormatError(path, f"missing column(s) {', '.join(missing)}", line=1)
    frame = frame[list(MANIFEST_COLUMNS)].rename(columns=MANIFEST_COLUMNS)
    for col in ("eol_content_id", "eol_page_id"):
        bad = ~frame[col].str.fullmatch(r"\d+")
        if bad.any():
            row = int(bad.idxmax())
            raise InputFormatError(path, f"{col} is not an integer: {frame[col][row]!r}", line=row + 2)
        frame[col] = frame[col].astype("int64").astype("Int64")
    return frame.drop_duplicates(["eol_content_id", "eol_page_id"])


def eol_licenses(catalog: pd.DataFrame, manifest: pd.DataFrame) -> pd.DataFrame:
    """One row per EOL image in the catalog; images the manifest lacks keep empty licence fields."""
    eol = catalog[catalog["eol_content_id"].notna()][["treeoflife_id", "eol_content_id", "eol_page_id"]]
    eol = eol.drop_duplicates("treeoflife_id")
    out = eol.merge(manifest, on=["eol_content_id", "eol_page_id"], how="left").fillna({"license": "", "owner": ""})
    return out[LICENSE_COLUMNS].sort_values("treeoflife_id").reset_index(drop=True)
