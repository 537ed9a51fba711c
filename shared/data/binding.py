"""Point the PynamoDB models at one deployment's tables (stage prefix, region, optional endpoint)."""

from __future__ import annotations

from shared.data.tables import ALL_TABLES


def bind_tables(prefix: str, region: str, endpoint_url: str | None = None) -> None:
    """Called once per process (Lambda cold start, CLI start, local system start), before any table use."""
    for model in ALL_TABLES:
        model.Meta.table_name = f"{prefix}{model.table_key}"
        model.Meta.region = region
        model.Meta.host = endpoint_url
        # PynamoDB caches its connection per model class; a re-bind must drop it.
        model._connection = None
