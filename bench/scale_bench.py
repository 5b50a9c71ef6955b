"""Scale benchmark of the metadata path: a synthetic TreeOfLife-10M-size input in the real layouts,
every stage run through the project's own code in a fresh process (so each peak RSS is its own).

    .venv/bin/python -m bench.scale_bench                 # 1M and 10.4M images (about 25 min in all)
    .venv/bin/python -m bench.scale_bench --sizes 10.4M   # one size
    .venv/bin/python -m bench.scale_bench --quick         # 30k images, small name sources (CI, seconds)

The input is made by DuckDB, no images: the listing of each source as the listing module gives it
(EOL members of 63 sets in tar order, iNat21 10,000 class folders, BIOSCAN 113 parts), a taxon.tab
of ~4M rows (~450k species pages; rows without an eolID make up the rest), ITIS chains, EOL and
iNaturalist vernaculars, the BIOSCAN metadata JSON (one record per image) and the two rare-species
lists. Name sources are full size at every image count (they are in reality); ``--quick`` shrinks them.

Prints per stage: seconds, rows/s, peak RSS, PASS/MISS against the targets of issue 13 (peak RSS
<= 6 GB for every stage, the whole metadata path <= 15 min in each build mode: a build runs one
label source), and writes bench/results/scale_bench.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

RSS_TARGET_MB = 6 * 1024
TOTAL_TARGET_S = 15 * 60
FULL = 10_400_000
INAT_TAXA = 1_100_000  # rows of the iNaturalist export's taxa.csv (over a million)
SCRAPED_PAGES = 150_000  # EOL pages with images that taxon.tab lacks, named by scraped_page_ids.csv
RESOLVED_NAMES = 60_000  # resolved.jsonl: names nothing else resolved
BIOSCAN_JSON_BYTES = 1_700_000_000  # the BIOSCAN-1M metadata JSON (about 1.5 kB a record)
SHARES = {"eol": 6_600_000 / 10_400_000, "inat21": 2_700_000 / 10_400_000}  # BIOSCAN: the rest
RESULTS = Path(__file__).parent / "results"


# --- the synthetic input -------------------------------------------------------------------------


def _sql_name(expr: str, letters: int = 6) -> str:
    """SQL: a lower-case letters-only name from an integer (names must not hold digits: a
    four-digit group reads as a year and is cut by clean_name)."""
    return " || ".join(f"chr(CAST(97 + (({expr}) // {26 ** k}) % 26 AS INTEGER))" for k in range(letters))


def generate(work: Path, images: int, names_scale: float = 1.0, log=print) -> dict:
    """Write the synthetic sources under ``work`` (skips what exists for this size)."""
    import duckdb

    marker = work / "input.json"
    if marker.exists():
        return json.loads(marker.read_text())
    work.mkdir(parents=True, exist_ok=True)
    src = work / "sources"
    for sub in ("metadata", "eol", "inaturalist", "bioscan/cropped_256", "inat21/train", "eol/images", "rarespecies"):
        (src / sub).mkdir(parents=True, exist_ok=True)
    n_eol = int(images * SHARES["eol"])
    n_inat = int(images * SHARES["inat21"])
    n_bio = images - n_eol - n_inat
    species = max(1000, int(450_000 * names_scale))
    tab_rows = max(10_000, int(4_000_000 * names_scale))
    pages_with_images = min(species, max(500, int(species * min(1.0, n_eol / 3_000_000))))
    levels = [("kingdom", 3), ("phylum", 60), ("class", 300), ("order", 1500), ("family", 10_000), ("genus", 80_000), ("species", species)]
    levels = [(r, min(n, species)) for r, n in levels]
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = true")
    t0 = time.monotonic()
    # taxon.tab: the accepted taxa level by level (page ids), then synonyms without eolID
    parts, base = [], 0
    starts = {}
    for depth, (rank, n) in enumerate(levels):
        starts[rank] = base
        if rank == "kingdom":
            name = "CASE i WHEN 0 THEN 'Animalia' WHEN 1 THEN 'Plantae' ELSE 'Fungi' END"
        else:
            name = "upper(substr(nm, 1, 1)) || substr(nm, 2)"
        parent = "NULL" if depth == 0 else f"'T' || ({starts[levels[depth - 1][0]]} + i * {levels[depth - 1][1]} // {n})"
        if rank == "species":  # "Genus epithet", the genus being the parent genus row's name
            genus = _sql_name(f"(i * {levels[depth - 1][1]} // {n}) * 7 + {(depth - 1) * 1000}", 6)
            canonical = "upper(substr(gn, 1, 1)) || substr(gn, 2) || ' ' || nm"
            select = (
                f"SELECT 'T' || ({base} + i) AS taxonID, {parent} AS parentNameUsageID, '{rank}' AS taxonRank,"
                f" {canonical} AS canonicalName, {canonical} || ' (Auct., 1900)' AS scientificName,"
                f" CAST({1_000_000 + base} + i AS VARCHAR) AS eolID, '' AS higherClassification"
                f" FROM (SELECT i, {_sql_name(f'i + {depth * 1000}', 7)} AS nm, {genus} AS gn FROM range({n}) t(i))"
            )
        else:
            select = (
                f"SELECT 'T' || ({base} + i) AS taxonID, {parent} AS parentNameUsageID, '{rank}' AS taxonRank,"
                f" {name} AS canonicalName, {name} AS scientificName, CAST({1_000_000 + base} + i AS VARCHAR) AS eolID,"
                f" '' AS higherClassification FROM (SELECT i, {_sql_name(f'i * 7 + {depth * 1000}', 6)} AS nm FROM range({n}) t(i))"
            )
        parts.append(select)
        base += n
    accepted = base
    synonyms = max(0, tab_rows - accepted)
    parts.append(
        f"SELECT 'S' || i, 'T' || (i % {accepted}), 'species', 'Synonymus ' || {_sql_name('i', 6)}, 'Synonymus x', '', ''"
        f" FROM range({synonyms}) t(i)"
    )
    n_genus = dict(levels)["genus"]
    con.execute(
        f"COPY ({' UNION ALL '.join(parts)}) TO '{src / 'metadata/taxon.tab'}' (HEADER, DELIMITER '\t', QUOTE '')"
    )
    species_start = 1_000_000 + starts["species"]
    # ITIS chains (Genus species → family …) for a third of the species, with English vernaculars
    itis = max(1000, species // 3)
    con.execute(
        f"""COPY (SELECT 'Animalia' AS Kingdom, 'Chordata' AS Phylum, 'Aves' AS Class, 'Passeriformes' AS "Order",
                  'Passeridae' AS Family, upper(substr(g, 1, 1)) || substr(g, 2) AS Genus, s AS Species,
                  'common ' || s || ', other' AS terminal_vernacular, 'English, French' AS terminal_vernacular_lang
            FROM (SELECT {_sql_name(f'(i * 3 * {n_genus} // {species}) * 7 + 5000', 6)} AS g, {_sql_name('i * 3 + 6000', 7)} AS s FROM range({itis}) t(i)))
            TO '{src / 'metadata/species_level_taxonomy_chains.csv'}' (HEADER)"""
    )
    vern = max(1000, species)
    con.execute(
        f"""COPY (SELECT {species_start} + (i % {species}) AS page_id, 'Canonical ' || {_sql_name('i', 5)} AS canonical_form,
                  'vernacular ' || {_sql_name('i * 3', 5)} AS vernacular_string, CASE WHEN i % 4 = 0 THEN 'fre' ELSE 'eng' END AS language_code,
                  CASE WHEN i % 2 = 0 THEN '1' ELSE '0' END AS is_preferred_by_eol
            FROM range({vern}) t(i)) TO '{src / 'eol/vernacularnames.csv'}' (HEADER)"""
    )
    inat_taxa = max(1000, int(INAT_TAXA * names_scale))
    con.execute(
        f"""COPY (SELECT i AS id, 'species' AS taxonRank, 'Inat ' || {_sql_name('i', 6)} AS scientificName, 'Animalia' AS kingdom,
                  'Chordata' AS phylum, 'Aves' AS class, 'Passeriformes' AS "order", 'Passeridae' AS family, 'Inat' AS genus,
                  {_sql_name('i', 6)} AS specificEpithet FROM range({inat_taxa}) t(i)) TO '{src / 'inaturalist/taxa.csv'}' (HEADER)"""
    )
    con.execute(
        f"""COPY (SELECT i AS id, 'inat common ' || {_sql_name('i', 5)} AS vernacularName FROM range(0, {inat_taxa}, 2) t(i))
            TO '{src / 'inaturalist/VernacularNames-english.csv'}' (HEADER)"""
    )
    scraped = max(100, int(SCRAPED_PAGES * names_scale))
    # listings (what the listing module gives for each source), Parquet, in listing order
    listing = work / "listing"
    listing.mkdir(exist_ok=True)
    uuid = "substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-a' || substr(h, 18, 3) || '-' || substr(h, 21, 12)"
    con.execute(
        f"""COPY (SELECT 'eol' AS source, 'eol-' || lpad(CAST(s AS VARCHAR), 2, '0') AS partition,
                  'image_set_' || lpad(CAST(s AS VARCHAR), 2, '0') || '.tar.gz:' || c || '_' || p || '_eol-full-size-copy.jpg' AS origin,
                  c AS eol_content_id, p AS eol_page_id, NULL::VARCHAR AS published_id, NULL::VARCHAR AS inat21_filename,
                  NULL::VARCHAR AS inat21_cls_name, NULL::BIGINT AS inat21_cls_num, NULL::BIGINT AS bioscan_part,
                  NULL::VARCHAR AS bioscan_filename, false AS bad_name
            FROM (SELECT i, 1 + i * 63 // {n_eol} AS s, 10000000 + (hash(i) % 90000000)::BIGINT * 0 + i * 7 + 3 AS c,
                         CASE WHEN i % 50 = 7 THEN {species_start + species} + (hash(i * 13) % {scraped})::BIGINT
                              ELSE {species_start} + (hash(i * 31) % {pages_with_images})::BIGINT END AS p, hash(i * 17) AS shuffle
                  FROM range({n_eol}) t(i))
            ORDER BY s, shuffle) TO '{listing / 'eol.parquet'}' (FORMAT PARQUET)"""
    )
    # the EOL media manifest (licences): one row per EOL image
    con.execute(
        f"""COPY (SELECT eol_content_id AS "EOL content ID", eol_page_id AS "EOL page ID",
                  'https://www.flickr.com/photos/' || (eol_content_id % 100000) || '/' || eol_content_id AS "Medium Source URL",
                  'https://content.eol.org/data/media/' || (eol_content_id % 997) || '/' || eol_content_id || '.jpg' AS "EOL Full-Size Copy URL",
                  CASE eol_content_id % 4 WHEN 0 THEN 'cc-by-2.0' WHEN 1 THEN 'cc-by-nc-sa-3.0' WHEN 2 THEN 'No known copyright restrictions'
                       ELSE 'cc-by-4.0' END AS "License Name",
                  'Owner ' || (eol_content_id % 50000) AS "Copyright Owner"
            FROM read_parquet('{listing / 'eol.parquet'}')) TO '{src / 'eol/media_manifest.csv'}' (HEADER)"""
    )
    classes = 10_000 if images >= 1_000_000 else max(10, images // 300)
    con.execute(
        f"""CREATE TABLE cls AS SELECT k, lpad(CAST(k AS VARCHAR), 5, '0') || '_' || name AS dir, name FROM (
              SELECT k, 'Animalia_Chordata_Aves_' || upper(substr(o, 1, 1)) || substr(o, 2) || '_' || upper(substr(f, 1, 1)) || substr(f, 2)
                     || '_' || upper(substr(g, 1, 1)) || substr(g, 2) || '_' || e AS name
              FROM (SELECT k, {_sql_name('k % 1500 * 7 + 3000', 6)} AS o, {_sql_name('k % 5000 * 7 + 4000', 6)} AS f,
                           {_sql_name('k * 7 + 5000', 6)} AS g, {_sql_name('k + 9000', 7)} AS e FROM range({classes}) t(k)))"""
    )
    con.execute(
        f"""COPY (SELECT 'inat21' AS source, 'inat21-' || lpad(CAST(k // 100 AS VARCHAR), 3, '0') AS partition,
                  'train/' || dir || '/' || fn AS origin, NULL::BIGINT AS eol_content_id, NULL::BIGINT AS eol_page_id,
                  NULL::VARCHAR AS published_id, fn AS inat21_filename, name AS inat21_cls_name, k AS inat21_cls_num,
                  NULL::BIGINT AS bioscan_part, NULL::VARCHAR AS bioscan_filename, false AS bad_name
            FROM (SELECT k, dir, name, (SELECT {uuid} FROM (SELECT md5('inat' || i) AS h)) || '.jpg' AS fn
                  FROM range({n_inat}) t(i) JOIN cls ON cls.k = i * {classes} // {n_inat})
            ORDER BY k, fn) TO '{listing / 'inat21.parquet'}' (FORMAT PARQUET)"""
    )
    parts_n = 113
    con.execute(
        f"""CREATE TABLE bio AS SELECT 1 + i * {parts_n} // {n_bio} AS part, md5('bio' || i) || '.jpg' AS fn, i
            FROM range({n_bio}) t(i)"""
    )
    con.execute(
        f"""COPY (SELECT 'bioscan' AS source, 'bioscan-' || lpad(CAST((part - 1) // 10 AS VARCHAR), 3, '0') AS partition,
                  'part' || part || '/' || fn AS origin, NULL::BIGINT AS eol_content_id, NULL::BIGINT AS eol_page_id,
                  NULL::VARCHAR AS published_id, NULL::VARCHAR AS inat21_filename, NULL::VARCHAR AS inat21_cls_name,
                  NULL::BIGINT AS inat21_cls_num, part AS bioscan_part, fn AS bioscan_filename, false AS bad_name
            FROM bio ORDER BY part, fn) TO '{listing / 'bioscan.parquet'}' (FORMAT PARQUET)"""
    )
    # BIOSCAN metadata: a JSON list, one record per image (~2,000 distinct insect taxa), each record
    # with the other fields of the real file (ids, a 658-base DNA barcode, …) so the file has its real
    # size (~1.5 kB a record, 1.7 GB for 1.1M); DuckDB writes it as a stream
    pad = max(0, int(BIOSCAN_JSON_BYTES * names_scale) // max(1, n_bio) - 560) if names_scale >= 1 else 0
    con.execute(
        f"""COPY (SELECT 'BIOUG' || lpad(CAST(i AS VARCHAR), 8, '0') AS sampleid, 'BSCAN' || i || '-22' AS processid,
                  'https://bioscan.example/' || i AS uri, 'Insecta' AS class, 'Arthropoda' AS phylum,
                  fn AS image_file, 'part' || part || '.tar' AS image_tar, part AS chunk_number, 'Diptera' AS "order",
                  CASE WHEN i % 10 = 0 THEN 'not_classified' ELSE 'Fam' || {_sql_name('i % 200', 4)} END AS family,
                  'not_classified' AS subfamily, 'not_classified' AS tribe,
                  CASE WHEN i % 5 = 0 THEN 'not_classified' ELSE 'Gen' || {_sql_name('i % 900', 4)} END AS genus,
                  CASE WHEN i % 3 = 0 THEN 'not_classified' ELSE 'Gen' || {_sql_name('i % 900', 4)} || ' ' || {_sql_name('i % 2000', 5)} END AS species,
                  'not_classified' AS subspecies, 'CreativeCommons - Attribution (CC-BY 3.0)' AS copyright_license,
                  'CBG Photography Group' AS copyright_holder, 'Diptera' AS large_diptera_family,
                  substr(repeat('ACGT', {pad // 4 + 1}), 1 + i % 4, {pad}) AS nucraw
            FROM bio) TO '{src / 'bioscan/BIOSCAN_Insect_Dataset_metadata.jsonld'}' (FORMAT JSON, ARRAY true)"""
    )
    # scraped page names: EOL pages with images that taxon.tab lacks (two-word names under known genera)
    con.execute(
        f"""COPY (SELECT {species_start + species} + i AS page_id,
                  upper(substr(g, 1, 1)) || substr(g, 2) || ' ' || {_sql_name('i + 7000', 6)} || ' Auct., 1901' AS scientific_name
            FROM (SELECT i, {_sql_name(f'(i % {n_genus}) * 7 + 5000', 6)} AS g FROM range({scraped}) t(i)))
            TO '{src / 'eol/scraped_page_ids.csv'}' (HEADER)"""
    )
    # resolved.jsonl: one object per line, {"Genus species": {"gbif": {kingdom … family}}}
    resolved = max(100, int(RESOLVED_NAMES * names_scale))
    con.execute(
        f"""COPY (SELECT json_object(n, json_object('gbif', json_object('kingdom', 'Animalia', 'phylum', 'Arthropoda',
                  'class', 'Insecta', 'order', 'Diptera', 'family', 'Fam' || {_sql_name('i % 200', 4)}))) AS j
            FROM (SELECT i, 'Resolvus ' || {_sql_name('i + 11000', 6)} AS n FROM range({resolved}) t(i)))
            TO '{src / 'metadata/resolved.jsonl'}' (FORMAT CSV, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\x1f')"""
    )
    # rare species: 400 species keys (hyphenated, seven ranks) with 30 EOL image paths each
    rows = con.execute(
        f"""SELECT eol_content_id, eol_page_id FROM read_parquet('{listing / 'eol.parquet'}') USING SAMPLE 12000 ROWS"""
    ).fetchall()
    seen = {f"Animalia-Chordata-Aves-Passeriformes-Passeridae-Rarus-species{k:03d}".replace("0", "o").replace("1", "i"): [f"eol/{c}_{p}_eol-full-size-copy.jpg" for c, p in rows[k * 30 : k * 30 + 30]] for k in range(400)}
    (src / "rarespecies/seen_in_training.json").write_text(json.dumps(dict(list(seen.items())[:200])))
    (src / "rarespecies/unseen_in_training.json").write_text(json.dumps(dict(list(seen.items())[200:])))
    con.close()
    info = {
        "images": images, "eol": n_eol, "inat21": n_inat, "bioscan": n_bio, "taxon_tab_rows": max(tab_rows, accepted),
        "species_pages": species, "eol_pages_with_images": pages_with_images, "inat21_classes": classes,
        "seconds": round(time.monotonic() - t0, 1),
    }
    marker.write_text(json.dumps(info, indent=2))
    log(f"input: {info}")
    return info


# --- stages --------------------------------------------------------------------------------------


def _paths(work: Path):
    from tol10m_assets.layout import SourceLayout
    from tol10m_assets.paths import BuildPaths

    return SourceLayout.under(work / "sources"), BuildPaths(work / "build")


def save_stub_index(archive: Path, members: tuple) -> None:
    """A current index of a stand-in archive: its size, mtime and content fingerprint, as `load_index` checks them."""
    from tol10m_assets.sources.eolindex import SetIndex, fingerprint, save_index

    st = archive.stat()
    save_index(SetIndex(archive, st.st_size, st.st_mtime_ns, members, fingerprint(archive, members)))


def refresh_stub_indexes(folder: Path) -> None:
    """Give the stand-in archives' indexes their fingerprint where they lack it (kept members)."""
    from tol10m_assets.sources.eolindex import Member, index_path, load_index

    for archive in sorted(folder.glob("image_set_*.tar.gz")):
        if load_index(archive) is None:
            data = json.loads(index_path(archive).read_text())
            save_stub_index(archive, tuple(Member(str(n), int(o), int(sz), 0) for n, o, sz, *_ in data["members"]))


def make_source_tree(work: Path, log=print) -> None:
    """The sources on disk as the listing reads them: every iNat21 and BIOSCAN file (empty: the
    listing reads names and types only) and, per EOL set, a current member index beside a stand-in
    archive (the index records the archive's size and mtime), from the synthetic listing."""
    import pyarrow.parquet as pq

    from tol10m_assets.sources.eolindex import Member

    marker = work / "tree.json"
    if marker.exists():
        refresh_stub_indexes(work / "sources/eol/images")  # a tree made before indexes had fingerprints
        return
    t0 = time.monotonic()
    src, listing = work / "sources", work / "listing"
    eol = pq.read_table(listing / "eol.parquet", columns=["origin"]).column(0).to_pylist()
    sets: dict[str, list[str]] = {}
    for origin in eol:
        name, _, member = origin.partition(":")
        sets.setdefault(name, []).append(member)
    del eol
    folder = src / "eol/images"
    for name, members in sets.items():
        archive = folder / name
        archive.write_bytes(b"stand-in: the listing reads the member index")
        save_stub_index(archive, tuple(Member(m, 512 * (2 * k + 1), 1, 0) for k, m in enumerate(members)))
    sets.clear()
    for source, root in (("inat21", src / "inat21"), ("bioscan", src / "bioscan/cropped_256")):
        origins = pq.read_table(listing / f"{source}.parquet", columns=["origin"]).column(0).to_pylist()
        made = set()
        for origin in origins:
            path = os.path.join(root, origin)
            parent = os.path.dirname(path)
            if parent not in made:
                os.makedirs(parent, exist_ok=True)
                made.add(parent)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
        del origins
    marker.write_text(json.dumps({"seconds": round(time.monotonic() - t0, 1)}))
    log(f"source tree: {marker.read_text()}")


INDEX_SETS, INDEX_MEMBERS, INDEX_MEMBER_BYTES = 4, 2500, 24_000  # synthetic .tar.gz sets for the index build


def make_index_sets(work: Path, sets: int = INDEX_SETS, members: int = INDEX_MEMBERS) -> list[Path]:
    """Synthetic EOL sets as ``.tar.gz`` of incompressible members (JPEGs do not compress)."""
    import tarfile

    folder = work / "index-sets"
    paths = [folder / f"image_set_{k + 1:02d}.tar.gz" for k in range(sets)]
    if all(p.exists() for p in paths):
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    rng = __import__("random").Random(0)
    blob = rng.randbytes(INDEX_MEMBER_BYTES * 8)
    for k, path in enumerate(paths):
        tmp = path.with_name(path.name + ".tmp")
        with tarfile.open(tmp, "w:gz", compresslevel=1) as tar:
            for i in range(members):
                start = rng.randrange(0, len(blob) - INDEX_MEMBER_BYTES)
                data = blob[start : start + INDEX_MEMBER_BYTES]
                info = tarfile.TarInfo(f"{20_000_000 + k * members + i}_{1_000_000 + i}_eol-full-size-copy.jpg")
                info.size = len(data)
                tar.addfile(info, __import__("io").BytesIO(data))
        tmp.replace(path)
    return paths


def stage_eol_index_build(work: Path):
    """The first listing of ``.tar.gz`` sets: one inflating pass per set to build its index, the sets
    listed in parallel (``list_eol_sets(…, workers=N)``, as the mapping asset lists them)."""
    from tol10m_assets.sources.eolindex import index_path, load_index
    from tol10m_assets.sources.listing import list_eol_sets

    sets = sorted((work / "index-sets").glob("image_set_*.tar.gz"))  # made by bench_size (prep, not timed)
    for p in sets:
        index_path(p).unlink(missing_ok=True)
    workers = os.cpu_count() or 1
    rows = sum(t.num_rows for t in list_eol_sets(sets, "generate", workers=workers))
    inflated = sum(m.offset + m.size for i in map(load_index, sets) for m in i.members[-1:])
    return rows, {"inflated_mb": round(inflated / 1e6, 1), "workers": workers,
                  "archive_mb": round(sum(p.stat().st_size for p in sets) / 1e6, 1)}


def stage_listing(work: Path) -> int:
    """The listing alone (``list_sources``: 63 set indexes, 10,000 iNat21 and 113 BIOSCAN folders), as
    the mapping asset runs it (the EOL sets ``N`` workers at a time)."""
    from tol10m_assets.sources import Chunking
    from tol10m_assets.sources.listing import list_sources

    layout, _ = _paths(work)
    return sum(t.num_rows for t in list_sources(layout, Chunking(), os.cpu_count() or 1))


def stage_mapping(work: Path) -> int:
    """The mapping asset's code path: the listing streamed from the sources on disk (tables spilled
    to Parquet as they come), EOL indexes ensured in parallel, ``write_mapping``."""
    from tol10m_assets import mapping as mapping_core
    from tol10m_assets.sources import Chunking

    layout, paths = _paths(work)
    chunking = Chunking()
    if paths.mapping.exists():
        paths.mapping.unlink()  # a fresh build (the empty-mapping guard only reads it)
    paths.mapping.parent.mkdir(parents=True, exist_ok=True)
    return mapping_core.write_mapping(
        mapping_core.iter_mapping_sources(layout, chunking, os.cpu_count() or 1), chunking.mode, paths.mapping,
        mapping_core.published_for(layout, chunking), mapping_core.source_roots(layout, chunking),
    ).rows


def stage_mapping_check(work: Path) -> int:
    from tol10m_assets import mapping as mapping_core

    _, paths = _paths(work)
    return mapping_core.duplicate_counts(paths.mapping)["images"]


def stage_splits(work: Path) -> int:
    from tol10m_assets import mapping as mapping_core
    from tol10m_assets import splits as splits_core

    _, paths = _paths(work)
    counts = splits_core.write_splits(paths.mapping, paths.splits)
    mapping_core.write_mapping_sqlite_from_parquet(paths.mapping_sqlite, paths.mapping, paths.splits)
    return sum(c["train"] + c["val"] for c in counts.values())


def stage_labels(work: Path) -> int:
    from tol10m_assets import catalog as catalog_core
    from tol10m_assets import labels as labels_core

    layout, paths = _paths(work)
    lookups = labels_core.resolve_lookups(layout, paths.mapping, log=lambda *a: None)
    for source, table in lookups.items():
        catalog_core.write_frame_atomic(table, paths.lookup(source))
    rows = labels_core.write_labels(paths.mapping, lookups, paths.labels)
    labels_core.complete_share_from_parquet(paths.labels, paths.mapping)
    return rows


def stage_predicted_catalog(work: Path) -> int:
    from tol10m_assets import catalog as catalog_core

    _, paths = _paths(work)
    return sum(catalog_core.write_predicted_catalog(paths.mapping, paths.splits, paths.labels, paths.predicted_catalog).values())


def stage_check_taxa_predicted(work: Path) -> int:
    from tol10m_assets import catalog as catalog_core

    _, paths = _paths(work)
    figures = catalog_core.taxa_figures_from_parquet(paths.predicted_catalog)
    catalog_core.judge_taxa(figures)
    return figures["rows"]


def stage_partition_samples(work: Path) -> int:
    """Bench prep: what the shard partitions would commit — per partition a ``samples.parquet`` (the
    predicted catalog's rows of its images), a stand-in file per shard (SHARD_STAND_IN_BYTES: the
    release hashes and links them; the bytes of the real shards scale the hashing figure) and a
    manifest naming them — so the release runs at full size without writing a single image."""
    import hashlib
    import json
    import shutil

    from tol10m_assets.columns import connect
    from tol10m_assets.labels import RANK_COLUMNS

    _, paths = _paths(work)
    tmp = paths.store.parent / "bench-partitioned"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(paths.store, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    ranks = ", ".join(f'p."{c}"' for c in RANK_COLUMNS)
    con = connect()
    try:
        con.execute("SET threads = 1")  # one file per partition
        con.execute(
            f"""COPY (SELECT m.partition, p.split, p.treeoflife_id, 'shard-' || m.partition || '-000000.tar' AS shard,
                             {ranks}, coalesce(p.common, '') AS common
                      FROM read_csv('{paths.predicted_catalog}', header = true, all_varchar = true) p
                      JOIN read_parquet('{paths.mapping}') m USING (treeoflife_id))
                TO '{tmp}' (FORMAT PARQUET, PARTITION_BY (partition))"""
        )
        counts = con.execute(
            f"SELECT partition, split, count(*) FROM read_parquet('{tmp}/*/*.parquet', hive_partitioning = true) GROUP BY ALL"
        ).fetchall()
    finally:
        con.close()
    by_partition: dict[str, dict[str, int]] = {}
    for partition, split, n in counts:
        by_partition.setdefault(partition, {})[split] = n
    blob = os.urandom(SHARD_STAND_IN_BYTES)  # shard stand-ins: the release hashes and links real files
    for partition, samples in by_partition.items():
        gen = paths.store / partition / "gen-bench"
        gen.mkdir(parents=True)
        (files,) = [sorted((tmp / f"partition={partition}").glob("*.parquet"))]
        assert len(files) == 1, files
        shutil.move(files[0], gen / "samples.parquet")
        shards = []
        for split, n in sorted(samples.items()):
            shard = gen / split / f"shard-{partition}-000000.tar"
            shard.parent.mkdir(parents=True, exist_ok=True)
            data = blob[len(shards) :] + blob[: len(shards)] + partition.encode()  # distinct bytes per file
            shard.write_bytes(data)
            shards.append({"split": split, "name": shard.name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "samples": n})
        manifest = {"generation": "gen-bench", "shards": shards, "samples": samples}
        (paths.store / partition / "manifest.json").write_text(json.dumps(manifest))
    shutil.rmtree(tmp, ignore_errors=True)
    return sum(n for *_, n in counts)


SHARD_STAND_IN_BYTES = 4 << 20
REAL_SHARD_BYTES = 584e9  # the 224 px shards of 10.4M images, hashed at release (and at each commit)


def stage_partition_rows(work: Path):
    """One partition's rows as ``build_partition`` loads them (mapping ⋈ splits ⋈ labels), for the
    largest partition: a per-partition cost of the shard phase, not of the metadata path."""
    from tol10m_assets.columns import connect
    from tol10m_assets.partition import load_partition_rows

    _, paths = _paths(work)
    con = connect()
    try:
        partition, n = con.execute(
            f"SELECT partition, count(*) AS n FROM read_parquet('{paths.mapping}') GROUP BY ALL ORDER BY n DESC, partition LIMIT 1"
        ).fetchall()[0]
    finally:
        con.close()
    start = time.monotonic()
    rows = len(load_partition_rows(paths, partition))
    return rows, {"partition": partition, "load_seconds": round(time.monotonic() - start, 2)}


def stage_release(work: Path):
    """``publish_release`` without Dagster, in its order (defs/publish.py): verify every committed
    shard (sha256, in threads) and link it into a staged release; the catalog from the partitions'
    sample tables ⋈ the mapping; the split indexes; the licences from the EOL media manifest; the
    taxa report; the consistency and rare-species checks; the commit (rename, link switch)."""
    from tol10m_assets import catalog as catalog_core
    from tol10m_assets import release
    from tol10m_assets.licenses import eol_licenses, read_media_manifest
    from tol10m_assets.store import PartitionStore
    from tol10m_assets.taxonomy import RareSpecies

    layout, paths = _paths(work)
    partitions = PartitionStore(paths.store).committed_partitions()
    timings: dict[str, float] = {}
    mark = [time.monotonic(), time.process_time()]

    def step(name: str) -> None:
        now, cpu = time.monotonic(), time.process_time()
        timings[name] = [round(now - mark[0], 2), round(cpu - mark[1], 2)]
        mark[:] = [now, cpu]

    # caption_check 0: the shards here are stand-ins (random bytes, not tars); the caption check's cost at
    # 10.4M samples is bench.caption_check_bench's (bench/README.md)
    staged = release.stage_release(paths, partitions, verify_hashes=True, hash_workers=max(2, os.cpu_count() or 1),
                                   caption_check=0.0)
    step("verify (sha256) + link")
    rows = release.write_catalog(staged, paths.mapping)
    step("catalog")
    release.write_split_indexes(staged)
    step("split indexes")
    eol = release.eol_rows(staged)
    manifest = read_media_manifest(layout.eol_media_manifest, keep=zip(eol["eol_content_id"], eol["eol_page_id"]))
    licences = eol_licenses(eol, manifest)
    catalog_core.write_frame_atomic(licences, staged.licenses)
    del manifest
    step("licences")
    figures = catalog_core.taxa_figures_from_parquet(staged.catalog_parquet)
    level, reasons = catalog_core.judge_taxa(figures)
    staged.taxa_report.write_text(catalog_core.taxa_report_markdown(figures, level, reasons))
    step("taxa report")
    problems = release.consistency_problems(staged)
    assert not any(v for k, v in problems.items() if k != "rows"), problems
    step("consistency")
    rules = RareSpecies.from_files(layout.rare_seen, layout.rare_unseen)
    rare = catalog_core.rare_leaks(staged.catalog_parquet, rules)
    step("rare_species_excluded")
    release.publish(staged, {"rows": rows})
    step("commit")
    verify = staged.verify
    return sum(rows.values()), {
        "steps": timings, "licences": len(licences), "rare_leaks": rare["leaks"], "shards_hashed": verify["files"],
        "hashed_mb": round(verify["bytes"] / 1e6, 1), "hash_mb_per_s": verify["mb_per_s"],
    }


def listing_figures(root: Path, files: int = 100_000, per_folder: int = 500) -> dict:
    """µs per file listing iNat21-style folders: ``os.scandir`` (the listing module) against the
    image readers' ``iterdir`` + ``is_file`` (one ``stat`` per file), warm cache, best of 3."""
    from tol10m_assets.layout import SourceLayout
    from tol10m_assets.sources import Chunking
    from tol10m_assets.sources.images import _iter_inat21_class, inat21_class_dirs
    from tol10m_assets.sources.listing import list_inat21

    src = root / "listing-tree"
    train = src / "inat21" / "train"
    if not (src / "done").exists():
        for k in range(files // per_folder):
            d = train / f"{k:05d}_Animalia_Chordata_Aves_Ordo_Familia_Genus_species{k}"
            d.mkdir(parents=True, exist_ok=True)
            for i in range(per_folder):
                (d / f"{k:05d}{i:06d}aaaaaaaaaaaaaaaaaaaaaaaa.jpg").touch()
        (src / "done").touch()
    layout, chunking = SourceLayout.under(src), Chunking()

    def old():
        return sum(1 for cls, folder in inat21_class_dirs(layout) for _ in _iter_inat21_class(cls, folder, "p", False))

    def new():
        return sum(t.num_rows for t in list_inat21(layout, chunking))

    out = {}
    for name, fn in (("iterdir + stat (image readers)", old), ("scandir (listing module)", new)):
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            n = fn()
            best = min(best, time.perf_counter() - start)
        out[name] = round(best / n * 1e6, 2)
    return out


def stage_slice_digests(work: Path):
    """The end of the labels asset (and of mapping and splits): every shard partition's slice digest
    (``slices.partition_digests``: one query over mapping ⋈ splits ⋈ labels), which Dagster observes
    as ``shard_sources``' partition versions. A fresh build computes it once (the splits and labels
    steps run side by side: the first to end finds the other's file missing)."""
    from tol10m_assets.slices import partition_digests

    _, paths = _paths(work)
    digests = partition_digests(paths)
    return len(digests), {"partitions": len(digests)}


# The metadata path, in order: (name, function, counted). ``counted`` says which build's 15-minute
# total a stage is in: True for both, a tuple of MODES for one (the label source a mode reads), False
# for none (bench preparation, per-partition figures). Another module may add stages (e.g.
# bench/reproduce_stages.py): see STAGE_MODULES and register_stage.
STAGES = [
    ("EOL index build (.tar.gz sets, parallel)", stage_eol_index_build, False),
    ("listing alone (list_sources)", stage_listing, False),
    ("mapping (listing + write_mapping, as the asset)", stage_mapping, True),
    ("mapping_ids_unique", stage_mapping_check, True),
    ("splits + mapping.sqlite", stage_splits, True),
    ("labels (lookups + join)", stage_labels, ("generate",)),
    ("shard_sources slice digests (labels' end)", stage_slice_digests, True),
    ("predicted catalog", stage_predicted_catalog, True),
    ("check_taxa (predicted csv)", stage_check_taxa_predicted, True),
    ("rows of the largest partition (per partition)", stage_partition_rows, False),
    ("partition sample tables + shards (bench prep)", stage_partition_samples, False),
    ("release (hash, link, catalog, indexes, licences, checks)", stage_release, True),
]
from bench.reproduce_stages import REPRODUCE_STAGES  # noqa: E402  (issue 18: published lookups, matches_published)

STAGES += REPRODUCE_STAGES

STAGE_MODULES = ["bench.reproduce_stages"]  # imported when present; each calls register_stage


MODES = ("generate", "reproduce")  # generate: labels from the naming code; reproduce: the published lookups


def counted_in(counted, mode: str) -> bool:
    """Whether a stage's ``counted`` puts it in the total of a build in ``mode``."""
    return counted is True or (isinstance(counted, (tuple, list)) and mode in counted)


def register_stage(name: str, fn, counted: bool | tuple = True, after: str | None = None) -> None:
    """Add a stage (run in a fresh process like the others) at the end, or after the stage ``after``."""
    if any(n == name for n, _, _ in STAGES):
        return
    at = next((i + 1 for i, (n, _, _) in enumerate(STAGES) if n == after), len(STAGES))
    STAGES.insert(at, (name, fn, counted))


def load_stage_modules() -> None:
    import importlib

    for module in STAGE_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def run_stage_here(name: str, work: Path) -> dict:
    from bench.proctree import TreeCPU

    load_stage_modules()
    fn = {n: f for n, f, _ in STAGES}[name]
    import tol10m_assets.catalog
    import tol10m_assets.labels
    import tol10m_assets.mapping
    import tol10m_assets.splits
    import tol10m_assets.taxonomy  # noqa: F401  (imports are not the stage's work: a Dagster process has them)

    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage0.ru_utime + usage0.ru_stime
    start = time.monotonic()
    with TreeCPU(interval=0.25) as tree:  # worker processes (the index build's pool) count too
        kids0 = tree.descendants()
        rows = fn(work)
        kids = tree.descendants() - kids0
    seconds = time.monotonic() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu0 - tree.sampler_cpu
    rows, extra = rows if isinstance(rows, tuple) else (rows, {})
    return {"stage": name, "rows": int(rows), "seconds": round(seconds, 2), "cpu_seconds": round(cpu + kids, 2),
            "worker_cpu_seconds": round(kids, 2), "peak_rss_mb": round(peak_rss_kb(usage) / 1024), "extra": extra}


def peak_rss_kb(usage) -> int:
    """This process's peak RSS: VmHWM (its own address space; ``ru_maxrss`` also counts what a
    forked parent had resident), else ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return usage.ru_maxrss


def run_stage(name: str, work: Path) -> dict:
    """One stage in a fresh interpreter: its own time and peak RSS."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.scale_bench", "--stage", name, "--work", str(work)],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1],
    )
    if out.returncode != 0:
        raise RuntimeError(f"stage {name} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def parse_size(text: str) -> int:
    text = text.strip().upper()
    for suffix, mult in (("M", 1_000_000), ("K", 1_000)):
        if text.endswith(suffix):
            return int(float(text[:-1]) * mult)
    return int(text)


def bench_size(root: Path, images: int, names_scale: float) -> dict:
    work = root / f"n{images}"
    info = generate(work, images, names_scale)
    make_source_tree(work)
    make_index_sets(work, members=INDEX_MEMBERS if names_scale >= 1 else INDEX_MEMBERS // 10)
    load_stage_modules()
    results = []
    print(f"\n== {images:,} images (EOL {info['eol']:,}, iNat21 {info['inat21']:,}, BIOSCAN {info['bioscan']:,}); "
          f"taxon.tab {info['taxon_tab_rows']:,} rows, {info['species_pages']:,} species pages")
    print(f"{'stage':56s} {'rows':>11s} {'seconds':>8s} {'CPU s':>7s} {'rows/s':>11s} {'peak RSS':>9s}  target")
    for name, _, counted in STAGES:
        r = run_stage(name, work)
        r["counted"] = counted if isinstance(counted, bool) else list(counted)
        r["rss_pass"] = r["peak_rss_mb"] <= RSS_TARGET_MB
        rate = r["rows"] / r["seconds"] if r["seconds"] else float("inf")
        where = "" if counted is True else f" ({'/'.join(counted)} only)" if counted else " (not counted)"
        verdict = ("PASS" if r["rss_pass"] else "MISS") + where
        print(f"{name:56s} {r['rows']:>11,} {r['seconds']:>8.1f} {r['cpu_seconds']:>7.1f} {rate:>11,.0f} {r['peak_rss_mb']:>7,} MB  {verdict}")
        results.append(r)
    totals = {}
    for mode in MODES:
        stages = [r for r in results if counted_in(r["counted"], mode)]
        wall, cpu = sum(r["seconds"] for r in stages), sum(r["cpu_seconds"] for r in stages)
        totals[mode] = {"seconds": round(wall, 1), "cpu_seconds": round(cpu, 1), "pass": wall <= TOTAL_TARGET_S}
        label = f"whole metadata path, {mode} mode"
        print(f"{label:56s} {'':>11s} {wall:>8.1f} {cpu:>7.1f} {'':>11s} {'':>9s}  "
              f"{'PASS' if wall <= TOTAL_TARGET_S else 'MISS'} (<= {TOTAL_TARGET_S} s)")
    ok = all(t["pass"] for t in totals.values())
    load = os.getloadavg()[0]
    print(f"(load average at the end: {load:.1f} on {os.cpu_count()} CPUs; CPU s = user + system of the stage's process "
          "and its worker processes, read from /proc; a build runs one mode: its label stage, not both)")
    for r in results:
        if r.get("extra"):
            print(f"  {r['stage']}: {json.dumps(r['extra'])}")
    worst = max(totals.values(), key=lambda t: t["seconds"])
    run = {"images": images, "input": info, "stages": results, "totals": totals, "total_seconds": worst["seconds"],
           "total_pass": ok, "total_cpu_seconds": worst["cpu_seconds"], "load_average": round(load, 1),
           "rss_pass": all(r["rss_pass"] for r in results)}
    run["model"] = print_model(results)
    return run


# --- the scale model --------------------------------------------------------------------------------

PARTITIONS = [(105_000, 63), (94_000, 12), (27_000, 100)]  # (images, count): EOL sets, BIOSCAN groups, iNat21 groups
DAGSTER_RUN_CPU = 0.8  # CPU s of one Dagster run of a shard partition (measured on the 20k world, issue 24)
EOL_SET_GB = 1_900 / 63  # the .tar.gz sets: 1.9 TB inflated once, for their first index
NODES_CORES = [(1, 2), (1, 32), (4, 32), (16, 32), (64, 32), (175, 32)]


def partition_costs(path: Path = RESULTS / "partition_bench.json") -> dict:
    """CPU of each stage of a partition per image and fixed, main process and workers apart
    (bench.partition_bench: two sizes at two workers); the docs' figures when it has not been run."""
    if path.exists():
        data = json.loads(path.read_text())
        if "per_image_cpu" in data:
            return {"source": str(path), "per_image": {k: tuple(v) for k, v in data["per_image_cpu"].items()},
                    "fixed": {k: tuple(v) for k, v in data["fixed_cpu"].items()}}
        run = data["runs"]["partition-2"]
        n = run["images"]
        per = {k: (v["main_cpu"] / n, v["worker_cpu"] / n) for k, v in run["stages"].items() if k != "partition (all)"}
        return {"source": str(path), "per_image": per, "fixed": {}}
    return {"source": "docs/scale.md (bench.partition_bench not run)", "fixed": {}, "per_image": {
        "write_partition": (0.0018, 0.0191), "check_wds": (0.0001, 0.0006), "plan": (0.00008, 0.0), "sha256": (0.00008, 0.0)}}


def partition_wall(n: int, cores: int, costs: dict, rows_s: float) -> tuple[float, float]:
    """(partition wall, its writer's wall) in seconds for ``n`` images on ``cores`` workers: the
    writer and the check pipelined (max of the main process and the workers / cores), sha256 in
    threads (≤ 4 shards), the rest serial, plus loading the rows and Dagster's run."""
    per, fixed = costs["per_image"], costs["fixed"]

    def cpu(stage):
        p, f = per.get(stage, (0.0, 0.0)), fixed.get(stage, (0.0, 0.0))
        return f[0] + n * p[0], f[1] + n * p[1]

    def piped(stage):
        main, workers = cpu(stage)
        return max(main, workers / cores)

    writer = piped("write_partition")
    serial = sum(sum(cpu(s)) for s in ("plan", "commit", "thumbnails", "other"))
    sha = sum(cpu("sha256")) / min(cores, 4)
    return rows_s + DAGSTER_RUN_CPU + serial + writer + piped("check_wds") + sha, writer


def print_model(results: list[dict]) -> dict:
    """The full build's wall time on N nodes x C cores from the measured figures, with its bound."""
    by = {r["stage"]: r for r in results}
    meta = max(sum(r["cpu_seconds"] for r in results if counted_in(r["counted"], mode) and not r["stage"].startswith("release"))
               for mode in MODES)  # the costlier mode
    rel = next(r for r in results if r["stage"].startswith("release"))
    steps = rel["extra"]["steps"]
    hash_cpu = steps["verify (sha256) + link"][1] if rel["extra"]["hashed_mb"] else 0.0
    hash_cpu_per_gb = hash_cpu / (rel["extra"]["hashed_mb"] / 1e3)
    release_rest = rel["cpu_seconds"] - hash_cpu
    rows_s = next(r for r in results if r["stage"].startswith("rows of the largest"))["extra"]["load_seconds"]
    idx = next(r for r in results if r["stage"].startswith("EOL index build"))
    index_cpu_per_gb = idx["cpu_seconds"] / (idx["extra"]["inflated_mb"] / 1e3)
    costs = partition_costs()
    per, fixed = costs["per_image"], costs["fixed"]
    print("\nscale model (docs/scale.md), the figures it is made of:")
    print(f"  metadata path before the shards, CPU s          {meta:10.1f}  (counted stages of the costlier mode, the release apart)")
    print(f"  release without hashing, CPU s                  {release_rest:10.1f}")
    print(f"  release hashing, CPU s per GB                   {hash_cpu_per_gb:10.2f}  x {REAL_SHARD_BYTES / 1e9:.0f} GB of shards")
    print(f"  first EOL index build, CPU s per GB inflated    {index_cpu_per_gb:10.2f}  x {EOL_SET_GB:.0f} GB per set (only once)")
    print(f"  rows of a partition at 10.4M (load), s          {rows_s:10.2f}")
    print(f"  Dagster's cost per partition run, CPU s         {DAGSTER_RUN_CPU:10.2f}  (issue 24, 20k world)")
    print(f"  a partition's stages, CPU per image in ms and fixed in s, main process / workers ({costs['source']}):")
    for stage, (m, w) in per.items():
        f = fixed.get(stage, (0.0, 0.0))
        print(f"    {stage:20s} {m * 1e3:7.3f} / {w * 1e3:7.3f} ms    {f[0]:6.3f} / {f[1]:6.3f} s")
    rows = []
    print(f"\n{'N x C':>9s} {'runs/node':>9s} {'metadata':>9s} {'shards':>9s} {'largest':>9s} {'release':>9s} {'total':>10s}"
          "  partition/writer  bound")
    for nodes, cores in NODES_CORES:
        best = None
        for per_node in (k for k in (1, 2, 4, 8, 16) if k <= cores and cores % k == 0):
            slots, workers = nodes * per_node, cores // per_node  # partitions run side by side on a node
            walls = sorted((partition_wall(n, workers, costs, rows_s) for n, k in PARTITIONS for _ in range(k)), reverse=True)
            load = [0.0] * slots
            for wall, _ in walls:  # longest first, each on the slot free first
                load[load.index(min(load))] += wall
            shards = max(load)
            if best is None or shards < best[0] * 0.98:
                best = (shards, per_node, walls)
        shards, per_node, walls = best
        largest, largest_writer = walls[0]
        t_meta = meta  # its CPU s: an upper bound of its wall on one node (DuckDB uses the cores, the taxonomy one)
        t_release = release_rest + hash_cpu_per_gb * REAL_SHARD_BYTES / 1e9 / cores  # sha256 in C threads
        total = t_meta + shards + t_release
        bound = max((("metadata path", t_meta), ("shard work", shards if shards > largest * 1.05 else 0.0),
                     ("the largest partition", largest if shards <= largest * 1.05 else 0.0), ("release", t_release)),
                    key=lambda kv: kv[1])[0]
        rows.append({"nodes": nodes, "cores": cores, "partitions_per_node": per_node, "metadata_s": t_meta, "shards_s": shards,
                     "largest_partition_s": largest, "release_s": t_release, "total_s": total,
                     "partition_over_writer": largest / largest_writer, "bound": bound})
        print(f"{nodes:>4d} x {cores:<3d} {per_node:>9d} {t_meta:>9.0f} {shards:>9.0f} {largest:>9.0f} {t_release:>9.0f} {total / 3600:>8.2f} h"
              f"  {largest / largest_writer:>16.3f}  {bound}")
    return {"meta_cpu": meta, "release_rest_cpu": release_rest, "hash_cpu_per_gb": hash_cpu_per_gb, "rows_s": rows_s,
            "index_cpu_per_gb": index_cpu_per_gb, "per_image": per, "fixed": fixed, "rows": rows}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1M,10.4M", help="image counts, e.g. 1M,10.4M")
    parser.add_argument("--quick", action="store_true", help="30k images, name sources at 1/50 (seconds)")
    parser.add_argument("--work", type=Path, default=None, help="where the synthetic input goes (default: a temp dir kept for reruns)")
    parser.add_argument("--model", action="store_true",
                        help="print the scale model again from bench/results/scale_bench.json and partition_bench.json")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stage:
        print(json.dumps(run_stage_here(args.stage, args.work)))
        return 0
    if args.model:
        runs = json.loads((RESULTS / "scale_bench.json").read_text())
        run = next(r for r in runs if r.get("images", 0) >= FULL)
        print(f"scale model from {RESULTS / 'scale_bench.json'} ({run['images']:,} images)")
        print_model(run["stages"])
        return 0
    sizes = [30_000] if args.quick else [parse_size(s) for s in args.sizes.split(",")]
    names_scale = 0.02 if args.quick else 1.0
    root = args.work or Path(os.environ.get("TMPDIR", "/tmp")) / f"tol10m-scale-bench{'-quick' if args.quick else ''}"
    print(f"scale benchmark: {os.cpu_count()} CPUs, work dir {root}, DuckDB memory limit "
          f"{os.environ.get('TOL10M_DUCKDB_MEMORY', '3GB')}; targets: peak RSS <= {RSS_TARGET_MB // 1024} GB per stage, "
          f"metadata path <= {TOTAL_TARGET_S // 60} min")
    runs = [bench_size(root, n, names_scale) for n in sizes]
    listing = listing_figures(root, files=10_000 if args.quick else 100_000)
    print("\nlisting iNat21-style folders, µs per file (warm cache; names and types, no image bytes):")
    for name, us in listing.items():
        print(f"  {name:34s} {us:6.2f}")
    runs.append({"listing_us_per_file": listing})
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / ("scale_bench_quick.json" if args.quick else "scale_bench.json")).write_text(json.dumps(runs, indent=2) + "\n")
    return 0 if all(r["total_pass"] and r["rss_pass"] for r in runs if "stages" in r) else 1


if __name__ == "__main__":
    raise SystemExit(main())
