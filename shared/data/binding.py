"""Point the PynamoDB models at one deployment's tables (stage prefix, region, optional endpoint)."""

from __future__ import annotations

from pynamodb.connection import Connection

from shared.data.tables import ALL_TABLES


def bind_tables(prefix: str, region: str, endpoint_url: str | None = None) -> None:
    """Called once per process (Lambda cold start, CLI start, local system start), before any table use.

    PynamoDB gives every model its own botocore session and client, and each costs ~0.1 s of service-model
    loading; all models here share one connection instead, which keeps cold starts and tests fast.
    """
    shared: Connection | None = None
    for model in ALL_TABLES:
        model.Meta.table_name = f"{prefix}{model.table_key}"
        model.Meta.region = region
        model.Meta.host = endpoint_url
        model._connection = None  # PynamoDB caches its connection per model class; a re-bind drops it
        table_connection = model._get_connection()
        if shared is None:
            shared = table_connection.connection
        else:
            shared.add_meta_table(table_connection.get_meta_table())
            table_connection.connection = shared


def shared_connection() -> Connection:
    """The one connection every model uses, for calls that span tables (transactions)."""
    return ALL_TABLES[0]._get_connection().connection
