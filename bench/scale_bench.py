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
<= 6 GB for every stage, the whole metadata path <= 15 min), and writes bench/results/scale_bench.json.
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
    inat_taxa = max(1000, int(100_000 * names_scale))
    con.execute(
        f"""COPY (SELECT i AS id, 'species' AS taxonRank, 'Inat ' || {_sql_name('i', 6)} AS scientificName, 'Animalia' AS kingdom,
                  'Chordata' AS phylum, 'Aves' AS class, 'Passeriformes' AS "order", 'Passeridae' AS family, 'Inat' AS genus,
                  {_sql_name('i', 6)} AS specificEpithet FROM range({inat_taxa}) t(i)) TO '{src / 'inaturalist/taxa.csv'}' (HEADER)"""
    )
    con.execute(
        f"""COPY (SELECT i AS id, 'inat common ' || {_sql_name('i', 5)} AS vernacularName FROM range(0, {inat_taxa}, 2) t(i))
            TO '{src / 'inaturalist/VernacularNames-english.csv'}' (HEADER)"""
    )
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
                         {species_start} + (hash(i * 31) % {pages_with_images})::BIGINT AS p, hash(i * 17) AS shuffle
                  FROM range({n_eol}) t(i))
            ORDER BY s, shuffle) TO '{listing / 'eol.parquet'}' (FORMAT PARQUET)"""
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
    # BIOSCAN metadata: a JSON list, one record per image (~2,000 distinct insect taxa)
    con.execute(
        f"""COPY (SELECT fn AS image_file, part AS chunk_number, 'Diptera' AS "order",
                  CASE WHEN i % 10 = 0 THEN 'not_classified' ELSE 'Fam' || {_sql_name('i % 200', 4)} END AS family,
                  CASE WHEN i % 5 = 0 THEN 'not_classified' ELSE 'Gen' || {_sql_name('i % 900', 4)} END AS genus,
                  CASE WHEN i % 3 = 0 THEN 'not_classified' ELSE 'Gen' || {_sql_name('i % 900', 4)} || ' ' || {_sql_name('i % 2000', 5)} END AS species
            FROM bio) TO '{src / 'bioscan/BIOSCAN_Insect_Dataset_metadata.jsonld'}' (FORMAT JSON, ARRAY true)"""
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


def stage_mapping(work: Path) -> int:
    from tol10m_assets import mapping as mapping_core

    _, paths = _paths(work)
    listing = [work / "listing" / f"{s}.parquet" for s in ("eol", "inat21", "bioscan")]
    if paths.mapping.exists():
        paths.mapping.unlink()  # a fresh build (the empty-mapping guard only reads it)
    return mapping_core.write_mapping(listing, "generate", paths.mapping).rows


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
    predicted catalog's rows of its images) and a manifest naming it — so the catalog is built from
    manifests at full size without writing a single image."""
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
    for partition, samples in by_partition.items():
        gen = paths.store / partition / "gen-bench"
        gen.mkdir(parents=True)
        (files,) = [sorted((tmp / f"partition={partition}").glob("*.parquet"))]
        assert len(files) == 1, files
        shutil.move(files[0], gen / "samples.parquet")
        shards = [{"split": split, "name": f"shard-{partition}-000000.tar", "bytes": 0, "sha256": "", "samples": n}
                  for split, n in sorted(samples.items())]
        manifest = {"generation": "gen-bench", "shards": shards, "samples": samples}
        (paths.store / partition / "manifest.json").write_text(json.dumps(manifest))
    shutil.rmtree(tmp, ignore_errors=True)
    return sum(n for *_, n in counts)


def stage_catalog_from_manifests(work: Path) -> int:
    """The release's catalog step at full size: catalog.csv + catalog.parquet from the partitions'
    sample tables ⋈ the mapping, the consistency check and the licences' EOL rows (release.py)."""
    import shutil

    from tol10m_assets import release
    from tol10m_assets.store import PartitionStore

    _, paths = _paths(work)
    store = PartitionStore(paths.store)
    partitions = store.committed_partitions()
    manifests = {p: store.read_manifest(p) for p in partitions}
    folder = paths.releases / ".staging-bench"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    staged = release.StagedRelease(paths, folder, "bench", partitions, manifests=manifests)
    for m in manifests.values():
        for split, n in m["samples"].items():
            staged.sizes[split] = staged.sizes.get(split, 0) + n
    rows = release.write_catalog(staged, paths.mapping)
    problems = release.consistency_problems(staged)
    assert not problems["rows_vs_shards_mismatch"], problems
    release.eol_rows(staged)
    paths.catalog_dir.mkdir(parents=True, exist_ok=True)
    shutil.move(staged.catalog_parquet, paths.catalog_parquet)  # the taxa report and rare check read it
    shutil.rmtree(folder, ignore_errors=True)
    return sum(rows.values())


def stage_taxa_report(work: Path) -> int:
    from tol10m_assets import catalog as catalog_core

    _, paths = _paths(work)
    figures = catalog_core.taxa_figures_from_parquet(paths.catalog_parquet)
    level, reasons = catalog_core.judge_taxa(figures)
    paths.taxa_report.write_text(catalog_core.taxa_report_markdown(figures, level, reasons))
    return figures["rows"]


def stage_rare_check(work: Path) -> int:
    from tol10m_assets import catalog as catalog_core
    from tol10m_assets.taxonomy import RareSpecies

    layout, paths = _paths(work)
    rules = RareSpecies.from_files(layout.rare_seen, layout.rare_unseen)
    result = catalog_core.rare_leaks(paths.catalog_parquet, rules)
    return result["rows"]


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


# The metadata path, in order: (name, function, counted in the 15-minute total).
STAGES = [
    ("mapping", stage_mapping, True),
    ("mapping_ids_unique", stage_mapping_check, True),
    ("splits + mapping.sqlite", stage_splits, True),
    ("labels (lookups + join)", stage_labels, True),
    ("predicted catalog", stage_predicted_catalog, True),
    ("check_taxa (predicted csv)", stage_check_taxa_predicted, True),
    ("partition sample tables (bench prep)", stage_partition_samples, False),
    ("catalog from manifests (+ consistency)", stage_catalog_from_manifests, True),
    ("taxa report (catalog parquet)", stage_taxa_report, True),
    ("rare_species_excluded", stage_rare_check, True),
]
from bench.reproduce_stages import REPRODUCE_STAGES  # noqa: E402  (issue 18: published lookups, matches_published)

STAGES += REPRODUCE_STAGES


def run_stage_here(name: str, work: Path) -> dict:
    fn = {n: f for n, f, _ in STAGES}[name]
    import tol10m_assets.catalog
    import tol10m_assets.labels
    import tol10m_assets.mapping
    import tol10m_assets.splits
    import tol10m_assets.taxonomy  # noqa: F401  (imports are not the stage's work: a Dagster process has them)

    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage0.ru_utime + usage0.ru_stime
    start = time.monotonic()
    rows = fn(work)
    seconds = time.monotonic() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu0
    return {"stage": name, "rows": int(rows), "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
            "peak_rss_mb": round(peak_rss_kb(usage) / 1024)}


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
    results, total = [], 0.0
    print(f"\n== {images:,} images (EOL {info['eol']:,}, iNat21 {info['inat21']:,}, BIOSCAN {info['bioscan']:,}); "
          f"taxon.tab {info['taxon_tab_rows']:,} rows, {info['species_pages']:,} species pages")
    print(f"{'stage':34s} {'rows':>11s} {'seconds':>8s} {'CPU s':>7s} {'rows/s':>11s} {'peak RSS':>9s}  target")
    for name, _, counted in STAGES:
        r = run_stage(name, work)
        r["counted"] = counted
        r["rss_pass"] = r["peak_rss_mb"] <= RSS_TARGET_MB
        total += r["seconds"] if counted else 0
        rate = r["rows"] / r["seconds"] if r["seconds"] else float("inf")
        verdict = ("PASS" if r["rss_pass"] else "MISS") + ("" if counted else " (not counted)")
        print(f"{name:34s} {r['rows']:>11,} {r['seconds']:>8.1f} {r['cpu_seconds']:>7.1f} {rate:>11,.0f} {r['peak_rss_mb']:>7,} MB  {verdict}")
        results.append(r)
    ok = total <= TOTAL_TARGET_S
    cpu = sum(r["cpu_seconds"] for r in results if r["counted"])
    load = os.getloadavg()[0]
    print(f"{'whole metadata path':34s} {'':>11s} {total:>8.1f} {cpu:>7.1f} {'':>11s} {'':>9s}  {'PASS' if ok else 'MISS'} (<= {TOTAL_TARGET_S} s)")
    print(f"(load average at the end: {load:.1f} on {os.cpu_count()} CPUs; CPU s = user + system of the stage's process)")
    return {"images": images, "input": info, "stages": results, "total_seconds": round(total, 1), "total_pass": ok,
            "total_cpu_seconds": round(cpu, 1), "load_average": round(load, 1),
            "rss_pass": all(r["rss_pass"] for r in results)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1M,10.4M", help="image counts, e.g. 1M,10.4M")
    parser.add_argument("--quick", action="store_true", help="30k images, name sources at 1/50 (seconds)")
    parser.add_argument("--work", type=Path, default=None, help="where the synthetic input goes (default: a temp dir kept for reruns)")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stage:
        print(json.dumps(run_stage_here(args.stage, args.work)))
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
