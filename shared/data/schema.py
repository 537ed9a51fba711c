"""A neutral description of each table, derived from the PynamoDB models, for the two places that create
tables: the CDK storage construct and the local emulator. Neither writes a key or index by hand."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.data.tables import ALL_TABLES, TTL_ATTRIBUTES, ArcollectModel


@dataclass(frozen=True)
class KeyAttr:
    name: str
    type: str  # "S" | "N" | "B"


@dataclass(frozen=True)
class IndexSpec:
    name: str
    partition_key: KeyAttr
    sort_key: KeyAttr | None
    projection: str  # "ALL" | "KEYS_ONLY" | "INCLUDE"
    non_key_attributes: tuple[str, ...] = ()  # with INCLUDE: the attributes copied into the index


@dataclass(frozen=True)
class TableSpec:
    key: str  # logical name, e.g. "invoices"; the deployed name is "<prefix><key>"
    partition_key: KeyAttr
    sort_key: KeyAttr | None
    indexes: tuple[IndexSpec, ...]
    ttl_attribute: str | None


def _keys(key_schema: Sequence[Mapping[str, str]], types: dict[str, str]) -> tuple[KeyAttr, KeyAttr | None]:
    by_type = {k["KeyType"]: k["AttributeName"] for k in key_schema}
    hash_name = by_type["HASH"]
    range_name = by_type.get("RANGE")
    return (
        KeyAttr(hash_name, types[hash_name]),
        KeyAttr(range_name, types[range_name]) if range_name else None,
    )


def table_spec(model: type[ArcollectModel]) -> TableSpec:
    schema: Any = model._get_schema()
    types = {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]}
    partition_key, sort_key = _keys(schema["key_schema"], types)
    indexes = []
    for gsi in schema["global_secondary_indexes"]:
        pk, sk = _keys(gsi["key_schema"], types)
        projection = gsi["projection"]
        indexes.append(
            IndexSpec(
                gsi["index_name"],
                pk,
                sk,
                projection["ProjectionType"],
                tuple(sorted(projection.get("NonKeyAttributes", ()))),
            )
        )
    return TableSpec(
        key=model.table_key,
        partition_key=partition_key,
        sort_key=sort_key,
        indexes=tuple(sorted(indexes, key=lambda i: i.name)),
        ttl_attribute=TTL_ATTRIBUTES.get(model.table_key),
    )


def all_table_specs() -> list[TableSpec]:
    return [table_spec(model) for model in ALL_TABLES]
