"""The Dagster layer: thin assets, checks, resources and jobs over the core."""
