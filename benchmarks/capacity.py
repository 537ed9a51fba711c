"""What a run would cost in AWS, counted at the emulator: DynamoDB items and request units, and the price of
the counted units, transitions and Lambda seconds.

Why: moto answers every request without billing it, and DynamoDB's ReturnConsumedCapacity is not what moto
returns. So the meter sits in front of moto's server (WSGI middleware, as benchmarks/emulator.py counts
requests) and works the units out as DynamoDB documents them:

- reads: items read are each GetItem (found or not), each key of a BatchGetItem or TransactGetItems, and the
  `ScannedCount` of a Query or Scan (what DynamoDB evaluates, before any filter). Read request units are
  4 KB steps of what was read, halved for an eventually consistent read (ConsistentRead doubles the cost),
  doubled in a transaction; a Query's bytes are the returned items' sizes scaled up to `ScannedCount` (the
  filtered-out items are not in the response), and round up once per request.
- writes: the item is looked up in moto's table just before and just after the request (DynamoDB requests
  are served one at a time while metered, so nothing else moves it between the two). A put, update or delete
  costs 1 KB steps of the larger of the two; a transaction doubles that, a ConditionCheck included. Each
  global secondary index adds its own writes, from the index entry (keys plus projected attributes) before
  and after: none if the entry did not change, one if only projected attributes changed or the item entered
  or left the index, two (a delete and a put) if the index key changed.
- item sizes follow DynamoDB's rules: attribute names plus values, strings and binaries by their bytes,
  numbers by about half their significant digits plus one, lists and maps 3 bytes plus one per element.

The pure parts (sizes, units, index entries, prices) are unit-tested; `CapacityMeter` adds the wire.
"""

from __future__ import annotations

import base64
import io
import json
import math
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Item = Mapping[str, Mapping[str, Any]]  # DynamoDB JSON: {"name": {"S": "..."}}
Fetch = Callable[[str, Item], Item | None]  # (table name, key) -> the stored item, or None

READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024
_DYNAMODB_TARGET = "DynamoDB_20120810."


# --- item sizes --------------------------------------------------------------------------------------------


def number_size(text: str) -> int:
    """DynamoDB stores a number in about one byte per two significant digits, plus one."""
    digits = text.lstrip("+-").replace(".", "").split("e")[0].split("E")[0].strip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def _binary_size(raw: Any) -> int:
    return len(raw) if isinstance(raw, bytes | bytearray) else len(base64.b64decode(raw))


def attribute_size(value: Mapping[str, Any]) -> int:
    """The stored size of one attribute value (without its name)."""
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        return number_size(str(raw))
    if kind == "B":
        return _binary_size(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(v).encode()) for v in raw)
    if kind == "NS":
        return sum(number_size(str(v)) for v in raw)
    if kind == "BS":
        return sum(_binary_size(v) for v in raw)
    if kind == "L":
        return 3 + sum(attribute_size(v) + 1 for v in raw)
    if kind == "M":
        return 3 + sum(len(k.encode()) + attribute_size(v) + 1 for k, v in raw.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def item_size(item: Item | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    """A write costs one unit per started KB, at least one."""
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int, *, consistent: bool) -> float:
    """A read costs one unit per started 4 KB (at least one) if strongly consistent, half if not."""
    return max(1, math.ceil(size / READ_UNIT_BYTES)) * (1.0 if consistent else 0.5)


# --- tables and their indexes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexSchema:
    name: str
    keys: tuple[str, ...]  # the index's hash key (and range key)
    table_keys: tuple[str, ...]
    projection: str = "ALL"  # ALL | KEYS_ONLY | INCLUDE
    include: frozenset[str] = frozenset()

    def entry(self, item: Item | None) -> dict[str, Mapping[str, Any]] | None:
        """The item as the index holds it, or None when it is not in the (sparse) index."""
        if item is None or any(key not in item for key in self.keys):
            return None
        if self.projection == "ALL":
            return dict(item)
        names = set(self.keys) | set(self.table_keys)
        if self.projection == "INCLUDE":
            names |= self.include
        return {name: value for name, value in item.items() if name in names}


@dataclass(frozen=True)
class TableSchema:
    keys: tuple[str, ...]
    indexes: tuple[IndexSchema, ...] = ()

    def key_of(self, item: Item) -> dict[str, Mapping[str, Any]]:
        return {name: item[name] for name in self.keys}


def table_schema(description: Mapping[str, Any]) -> TableSchema:
    """From DescribeTable's `Table`."""
    keys = tuple(k["AttributeName"] for k in description["KeySchema"])
    indexes = tuple(
        IndexSchema(
            name=index["IndexName"],
            keys=tuple(k["AttributeName"] for k in index["KeySchema"]),
            table_keys=keys,
            projection=index["Projection"]["ProjectionType"],
            include=frozenset(index["Projection"].get("NonKeyAttributes", ())),
        )
        for index in description.get("GlobalSecondaryIndexes", [])
    )
    return TableSchema(keys, indexes)


def index_write_units(index: IndexSchema, before: Item | None, after: Item | None) -> int:
    old, new = index.entry(before), index.entry(after)
    if old is None and new is None:
        return 0
    if old is None or new is None:
        return write_units(item_size(old if new is None else new))
    if any(old[key] != new[key] for key in index.keys):
        return write_units(item_size(old)) + write_units(item_size(new))
    if old == new:
        return 0
    return write_units(max(item_size(old), item_size(new)))


@dataclass(frozen=True)
class WriteUnits:
    table: int
    indexes: int

    @property
    def total(self) -> int:
        return self.table + self.indexes


def item_write_units(
    schema: TableSchema, before: Item | None, after: Item | None, *, transactional: bool = False, check: bool = False
) -> WriteUnits:
    """One item's write: the table's units for the larger of before and after (doubled in a transaction),
    and each index's. A ConditionCheck (`check`) writes no index."""
    table = write_units(max(item_size(before), item_size(after))) * (2 if transactional else 1)
    if check:
        return WriteUnits(table, 0)
    return WriteUnits(table, sum(index_write_units(index, before, after) for index in schema.indexes))


# --- one request --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WriteTarget:
    table: str
    key: dict[str, Mapping[str, Any]]
    transactional: bool = False
    check: bool = False


def write_targets(operation: str, body: Mapping[str, Any], schemas: Mapping[str, TableSchema]) -> list[WriteTarget]:
    """The items a write request may change, by table and key."""
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        table = body["TableName"]
        key = schemas[table].key_of(body["Item"]) if operation == "PutItem" else dict(body["Key"])
        return [WriteTarget(table, key)]
    targets = []
    if operation == "BatchWriteItem":
        for table, requests in body.get("RequestItems", {}).items():
            for request in requests:
                if "PutRequest" in request:
                    targets.append(WriteTarget(table, schemas[table].key_of(request["PutRequest"]["Item"])))
                else:
                    targets.append(WriteTarget(table, dict(request["DeleteRequest"]["Key"])))
    elif operation == "TransactWriteItems":
        for entry in body.get("TransactItems", []):
            ((action, spec),) = entry.items()
            table = spec["TableName"]
            key = schemas[table].key_of(spec["Item"]) if action == "Put" else dict(spec["Key"])
            targets.append(WriteTarget(table, key, transactional=True, check=action == "ConditionCheck"))
    return targets


@dataclass(frozen=True)
class ReadCount:
    target: str  # table, or table/index
    items: int
    units: float


def read_counts(operation: str, body: Mapping[str, Any], response: Mapping[str, Any]) -> list[ReadCount]:
    """Items and read units of one read request, from the request and DynamoDB's response."""
    consistent = bool(body.get("ConsistentRead"))
    if operation == "GetItem":
        size = item_size(response.get("Item"))
        return [ReadCount(body["TableName"], 1, read_units(size, consistent=consistent))]
    if operation in ("Query", "Scan"):
        target = body["TableName"] + (f"/{body['IndexName']}" if body.get("IndexName") else "")
        returned = response.get("Items") or []
        scanned = int(response.get("ScannedCount", len(returned)))
        size = sum(item_size(i) for i in returned)
        if returned and scanned > len(returned):
            size = round(size * scanned / len(returned))
        return [ReadCount(target, scanned, read_units(size, consistent=consistent))]
    if operation == "BatchGetItem":
        return _batch_get_counts(body, response)
    if operation == "TransactGetItems":
        found = [r.get("Item") for r in response.get("Responses") or []]
        counts = []
        for n, entry in enumerate(body.get("TransactItems", [])):
            item = found[n] if n < len(found) else None
            counts.append(ReadCount(entry["Get"]["TableName"], 1, 2 * read_units(item_size(item), consistent=True)))
        return counts
    return []


def _batch_get_counts(body: Mapping[str, Any], response: Mapping[str, Any]) -> list[ReadCount]:
    counts = []
    unprocessed = response.get("UnprocessedKeys") or {}
    for table, request in body.get("RequestItems", {}).items():
        consistent = bool(request.get("ConsistentRead"))
        asked = len(request.get("Keys", [])) - len(unprocessed.get(table, {}).get("Keys", []))
        items = (response.get("Responses") or {}).get(table, [])
        units = sum(read_units(item_size(i), consistent=consistent) for i in items)
        units += (asked - len(items)) * read_units(0, consistent=consistent)  # a key not found is still read
        counts.append(ReadCount(table, asked, units))
    return counts


# --- what was used, by phase ---------------------------------------------------------------------------------


@dataclass
class Usage:
    requests: Counter[str] = field(default_factory=Counter)  # by operation
    items_read: Counter[str] = field(default_factory=Counter)  # by target (table or table/index)
    read_units: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    items_written: Counter[str] = field(default_factory=Counter)  # by table
    write_units: Counter[str] = field(default_factory=Counter)  # the table's own units, by table
    index_write_units: Counter[str] = field(default_factory=Counter)  # by table/index
    failed_requests: int = 0

    def add(self, other: Usage) -> None:
        for name in ("requests", "items_read", "items_written", "write_units", "index_write_units"):
            getattr(self, name).update(getattr(other, name))
        for target, units in other.read_units.items():
            self.read_units[target] += units
        self.failed_requests += other.failed_requests

    @property
    def total_items_read(self) -> int:
        return sum(self.items_read.values())

    @property
    def total_read_units(self) -> float:
        return float(sum(self.read_units.values()))

    @property
    def total_write_units(self) -> int:
        return sum(self.write_units.values()) + sum(self.index_write_units.values())


def total(usages: Iterable[Usage]) -> Usage:
    summed = Usage()
    for usage in usages:
        summed.add(usage)
    return summed


class CapacityMeter:
    """WSGI middleware in front of moto: counts each DynamoDB request's items and units under `phase`
    (set by whoever drives the run: the handler being invoked). Requests are served one at a time while
    metered, so an item's before and after belong to the request between them."""

    def __init__(self, schemas: Mapping[str, TableSchema], fetch: Fetch, prefix: str = "") -> None:
        self.schemas = dict(schemas)
        self.fetch = fetch
        self.prefix = prefix
        self.phase = "setup"
        self.enabled = False  # off while a ledger is written: only the run is metered
        self.usage: dict[str, Usage] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.usage = {}

    def wrap(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        def metered_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            if not self.enabled or not target.startswith(_DYNAMODB_TARGET):
                return app(environ, start_response)
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(raw)
            return self._serve(target.removeprefix(_DYNAMODB_TARGET), raw, app, environ, start_response)

        return metered_app

    def _serve(
        self, operation: str, raw: bytes, app: Callable[..., Iterable[bytes]], environ: Any, start_response: Any
    ) -> list[bytes]:
        body = json.loads(raw or b"{}")
        status: list[str] = []

        def capture(code: str, headers: Any, exc_info: Any = None) -> Any:
            status.append(code)
            return start_response(code, headers, exc_info) if exc_info else start_response(code, headers)

        with self._lock:
            targets = write_targets(operation, body, self.schemas)
            before = [self.fetch(t.table, t.key) for t in targets]
            result = app(environ, capture)
            try:
                chunks = list(result)
            finally:
                getattr(result, "close", lambda: None)()
            after = [self.fetch(t.table, t.key) for t in targets]
            ok = bool(status) and status[0].startswith("2")
            response = json.loads(b"".join(chunks) or b"{}") if ok else {}
            self._account(operation, body, response, ok, list(zip(targets, before, after, strict=True)))
        return chunks

    def _account(
        self,
        operation: str,
        body: Mapping[str, Any],
        response: Mapping[str, Any],
        ok: bool,
        writes: Sequence[tuple[WriteTarget, Item | None, Item | None]],
    ) -> None:
        usage = self.usage.setdefault(self.phase, Usage())
        usage.requests[operation] += 1
        if not ok:
            usage.failed_requests += 1
        for read in read_counts(operation, body, response) if ok else ():
            usage.items_read[self._name(read.target)] += read.items
            usage.read_units[self._name(read.target)] += read.units
        for target, before, after in writes:
            schema = self.schemas[target.table]
            table = self._name(target.table)
            units = item_write_units(schema, before, after, transactional=target.transactional, check=target.check)
            usage.items_written[table] += 1
            usage.write_units[table] += units.table
            for index in schema.indexes:
                index_units = 0 if target.check else index_write_units(index, before, after)
                if index_units:
                    usage.index_write_units[f"{table}/{index.name}"] += index_units

    def _name(self, target: str) -> str:
        return target.removeprefix(self.prefix)


# --- prices ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prices:
    """USD, ENGINEERING.md's published prices (on-demand DynamoDB, Step Functions Standard, Lambda arm64, SES);
    Lambda's request fee is AWS's published $0.20 per million."""

    write_request_unit: float = 0.625 / 1e6
    read_request_unit: float = 0.125 / 1e6
    state_transition: float = 0.025 / 1e3
    lambda_gb_second: float = 0.0000133334
    lambda_request: float = 0.20 / 1e6
    email: float = 0.10 / 1e3


@dataclass(frozen=True)
class RunUsage:
    read_units: float
    write_units: float
    state_transitions: int
    lambda_gb_seconds: float
    lambda_invocations: int
    emails: int


@dataclass(frozen=True)
class RunCost:
    dynamodb: float
    step_functions: float
    lambda_: float
    ses: float

    @property
    def aws(self) -> float:
        """What the issue's cost goal counts: DynamoDB, Lambda and Step Functions; SES is apart."""
        return self.dynamodb + self.step_functions + self.lambda_


def run_cost(usage: RunUsage, prices: Prices = Prices()) -> RunCost:
    return RunCost(
        dynamodb=usage.read_units * prices.read_request_unit + usage.write_units * prices.write_request_unit,
        step_functions=usage.state_transitions * prices.state_transition,
        lambda_=usage.lambda_gb_seconds * prices.lambda_gb_second + usage.lambda_invocations * prices.lambda_request,
        ses=usage.emails * prices.email,
    )


def gb_seconds(durations_s: Iterable[float], memory_mb: int) -> float:
    """Lambda bills each invocation's duration rounded up to the millisecond, at the configured memory."""
    return sum(math.ceil(seconds * 1000) / 1000 for seconds in durations_s) * memory_mb / 1024
