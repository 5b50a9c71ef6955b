"""What the UI shows is readable: check_taxa's verdict in words beside its status, figures as tables."""

from dagster import AssetCheckSeverity

from tol10m_assets.testing import check_evaluation, metadata_values


def test_a_check_taxa_warning_says_it_is_only_a_warning(built):
    taxa = check_evaluation(built.results["prepare"], "check_taxa", "predicted_catalog")
    assert taxa.severity == AssetCheckSeverity.WARN and not taxa.passed
    assert taxa.description.startswith("WARNING only (publishes): multiword_species_share")
    rows = [r.data["figure above its threshold"] for r in metadata_values(taxa)["above_thresholds"].records]
    assert rows == metadata_values(taxa)["reasons"]


def test_check_taxa_verdicts_in_words():
    from tol10m_assets.defs.checks import taxa_verdict

    assert taxa_verdict("PASS", []).startswith("PASS")
    assert taxa_verdict("ERROR", ["a > error threshold 0"]) == "ERROR (blocks publishing): a > error threshold 0"
