"""The check_taxa thresholds (no heavy imports: the settings class reads them when definitions load)."""

DEFAULT_THRESHOLDS = {
    # figure: (warn when above, error when above); shares are of rows
    "hierarchy_gap_share": (0.01, 0.10),
    "multiword_species_share": (0.0, 0.05),
    "unidentified_species": (0, 0),
    "incomplete_share": (0.20, 0.60),
    "unexpected_kingdoms": (0, 10),
}
