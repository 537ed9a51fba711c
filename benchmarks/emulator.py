"""A moto server for one benchmark, with the arcollect tables (and TIN keys) provisioned, that counts the
DynamoDB requests it serves and the items they ask for: costs are counted, not estimated.

Standalone on purpose (moto's `ThreadedMotoServer` directly, not `arcollect.local.emulator`), so the
benchmarks measure the code under test without depending on the local-system wiring.
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from arcollect.local.deployment import EMULATOR_ACCESS_KEY, EMULATOR_SECRET_KEY, LocalDeployment
from arcollect.local.provisioning import provision_tables, provision_tin_keys
from shared.data.binding import bind_tables
from shared.settings import RuntimeSettings

_DYNAMODB_TARGET = "DynamoDB_20120810."
# Per request: the items one call reads or writes, by table.
_READS_ONE = {"GetItem"}
_WRITES_ONE = {"PutItem", "UpdateItem", "DeleteItem"}


def items_touched(operation: str, body: dict[str, Any]) -> tuple[dict[str, int], dict[str, int]]:
    """(items read, items written) by table for one DynamoDB request. Query and Scan are not here: what
    they read is only known from the response (ScannedCount), which the benchmark reads itself."""
    reads: Counter[str] = Counter()
    writes: Counter[str] = Counter()
    if operation in _READS_ONE:
        reads[body["TableName"]] += 1
    elif operation in _WRITES_ONE:
        writes[body["TableName"]] += 1
    elif operation == "BatchGetItem":
        for table, request in body.get("RequestItems", {}).items():
            reads[table] += len(request.get("Keys", []))
    elif operation == "BatchWriteItem":
        for table, requests in body.get("RequestItems", {}).items():
            writes[table] += len(requests)
    elif operation == "TransactWriteItems":
        for entry in body.get("TransactItems", []):
            for action in entry.values():
                writes[action["TableName"]] += 1
    elif operation == "TransactGetItems":
        for entry in body.get("TransactItems", []):
            reads[entry["Get"]["TableName"]] += 1
    return dict(reads), dict(writes)


def strip_prefix(counts: dict[str, int], prefix: str) -> dict[str, int]:
    """Deployed table names → logical ones ("arcollect-local-invoices" → "invoices")."""
    return {name.removeprefix(prefix): n for name, n in counts.items()}


@dataclass
class RequestCounts:
    """What the server has been asked since the last `reset()`."""

    requests: Counter[str] = field(default_factory=Counter)  # by operation
    reads: Counter[str] = field(default_factory=Counter)  # items, by table
    writes: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, operation: str, body: dict[str, Any]) -> None:
        reads, writes = items_touched(operation, body)
        with self._lock:
            self.requests[operation] += 1
            self.reads.update(reads)
            self.writes.update(writes)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.reads.clear()
            self.writes.clear()

    def wrap(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        """WSGI middleware: read the DynamoDB request body, count it, hand it on unchanged."""

        def counting_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            if target.startswith(_DYNAMODB_TARGET):
                length = int(environ.get("CONTENT_LENGTH") or 0)
                raw = environ["wsgi.input"].read(length) if length else b""
                environ["wsgi.input"] = io.BytesIO(raw)
                self.record(target.removeprefix(_DYNAMODB_TARGET), json.loads(raw or b"{}"))
            return app(environ, start_response)

        return counting_app


@dataclass
class BenchEmulator:
    endpoint_url: str
    settings: RuntimeSettings
    counts: RequestCounts
    client: Callable[[str], Any]  # boto3 client factory bound to the server

    @property
    def table_prefix(self) -> str:
        return self.settings.table_prefix


@contextmanager
def running_emulator(*, tin_keys: bool = False) -> Iterator[BenchEmulator]:
    """A fresh moto server on 127.0.0.1 (free port), tables provisioned, PynamoDB models bound to it.
    Stopping it resets moto's (process-global) backends, so the next benchmark starts empty."""
    import boto3
    from moto.server import ThreadedMotoServer

    from arcollect.local import moto_fast_responses, moto_item_size, moto_transactions

    # The same emulator `arcollect local` runs: transactions cost O(items touched), not O(table), and item
    # responses are dumped as JSON, not walked through moto's shape serializer.
    moto_transactions.install()
    moto_fast_responses.install()
    moto_item_size.install()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ.update(AWS_ACCESS_KEY_ID=EMULATOR_ACCESS_KEY, AWS_SECRET_ACCESS_KEY=EMULATOR_SECRET_KEY)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    counts = RequestCounts()
    # The werkzeug server calls `server.app` per request: wrapping it counts every request from now on.
    wsgi_server = server._server
    assert wsgi_server is not None
    wsgi_server.app = counts.wrap(wsgi_server.app)
    endpoint_url = "http://{}:{}".format(*server.get_host_and_port())
    deployment = LocalDeployment()
    settings = deployment.settings(endpoint_url)

    def client(service: str) -> Any:
        return boto3.session.Session().client(
            service,
            endpoint_url=endpoint_url,
            region_name=settings.region,
            aws_access_key_id=EMULATOR_ACCESS_KEY,
            aws_secret_access_key=EMULATOR_SECRET_KEY,
        )

    try:
        provision_tables(client("dynamodb"), settings.table_prefix)
        if tin_keys:
            provision_tin_keys(client("kms"), deployment)
        bind_tables(settings.table_prefix, settings.region, endpoint_url)
        counts.reset()
        yield BenchEmulator(endpoint_url=endpoint_url, settings=settings, counts=counts, client=client)
    finally:
        try:
            urllib.request.urlopen(urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST"), timeout=60)
        finally:
            server.stop()
            moto_transactions.uninstall()
            moto_fast_responses.uninstall()
            moto_item_size.uninstall()
