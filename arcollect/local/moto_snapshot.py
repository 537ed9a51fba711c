"""Capture and restore the emulator's data, so `arcollect local` keeps its ledger across restarts.

The data that must survive lives in moto's in-memory backends: DynamoDB items, S3 objects, KMS keys (TINs
are encrypted under them: new keys would make every stored TIN unreadable), SQS messages, secrets, and the
mail and SMS the system "sent". No AWS API exports KMS key material, so the backends of those services are
pickled whole; everything else (IAM, Lambda, state machines) is provisioned again on every start.

A snapshot must be consistent (never half a transaction), so every request to the emulator passes a
`RequestGate`, which a capture closes once no request is in flight.

PIN-SENSITIVE: moto's backend objects (`moto.backends.get_backend`, `BackendDict`/`AccountSpecificBackend`,
`s3_backends.bucket_accounts`, DynamoDB's `LimitedSizeDict`) and `ThreadedMotoServer._server` are private
moto API (checked against moto 5.2.5). A snapshot is only read back by the same moto version (persistence.py
checks before unpickling). Touched here and nowhere else; tests/integration/test_local_persistence.py proves
the round trip.
"""

from __future__ import annotations

import copyreg
import functools
import gc
import io
import pickle
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

# What holds data a user would miss; the rest is configuration provisioning recreates.
SNAPSHOT_SERVICES = ("dynamodb", "s3", "kms", "sqs", "secretsmanager", "ses", "sns")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


class RequestGate:
    """Counts the requests in flight and can hold new ones back while a snapshot is taken."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._active = 0
        self._closed = False
        self.generation = 0  # requests admitted so far: unchanged means nothing to save

    def wrap(self, app: WsgiApp) -> WsgiApp:
        def gated(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            with self._condition:
                self._condition.wait_for(lambda: not self._closed)
                self._active += 1
                self.generation += 1
            try:
                return app(environ, start_response)
            finally:
                with self._condition:
                    self._active -= 1
                    self._condition.notify_all()

        return gated

    @contextmanager
    def closed(self, timeout: float) -> Iterator[None]:
        """No request runs inside this block. First waits for a quiet moment with the gate open (a client
        importing a file pauses between requests); then closes it and waits for the requests in flight. A
        request can wait on another one (a Lambda invocation calling DynamoDB), so that second wait is
        bounded too: TimeoutError, gate reopened, try again later."""
        with self._condition:
            quiet = self._condition.wait_for(lambda: self._active == 0, timeout / 2)
            self._closed = True
            if not quiet and not self._condition.wait_for(lambda: self._active == 0, timeout / 2):
                self._closed = False
                self._condition.notify_all()
                raise TimeoutError(f"the emulator stayed busy for {timeout:.0f} s")
        try:
            yield
        finally:
            with self._condition:
                self._closed = False
                self._condition.notify_all()


def install_gate(server: Any) -> RequestGate:
    """Put a gate in front of a started `ThreadedMotoServer` (its werkzeug server calls `.app` per request)."""
    wsgi_server = server._server
    if wsgi_server is None:
        raise RuntimeError("the moto server is not started")
    gate = RequestGate()
    wsgi_server.app = gate.wrap(wsgi_server.app)
    return gate


def _load_private_key(pem: bytes) -> Any:
    return serialization.load_pem_private_key(pem, password=None)


def _stamped_messages(messages: list[Any], stamps: list[str | None]) -> Any:
    from arcollect.local.outbox import _StampedMessageList

    restored = _StampedMessageList(messages)
    restored.sent_at = {id(m): s for m, s in zip(messages, stamps, strict=True) if s is not None}
    return restored


def _stamped_sms(messages: dict[str, Any], stamps: dict[str, str]) -> Any:
    from arcollect.local.outbox import _StampedSmsDict

    restored = _StampedSmsDict(messages)
    restored.sent_at = dict(stamps)
    return restored


def _limited_size_dict(items: dict[str, Any]) -> Any:
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict

    restored = LimitedSizeDict()
    dict.update(restored, items)  # dict's own update: the items were checked when they were first written
    return restored


@functools.cache
def _private_key_types() -> tuple[type, ...]:
    """The concrete classes of the private keys moto makes (cryptography's ABCs are not their types)."""
    return (
        type(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
        type(ec.generate_private_key(ec.SECP256R1())),
        type(ed25519.Ed25519PrivateKey.generate()),
    )


def _reduce_private_key(key: Any) -> tuple[Any, ...]:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return (_load_private_key, (pem,))


def _dispatch_table() -> dict[type, Callable[[Any], Any]]:
    """How to pickle what moto keeps that pickle cannot: locks (fresh ones come back), the private keys
    moto makes for every KMS key (as PEM), and the outbox's stamped SES and SNS stores (the mail's stamps
    are keyed by object id, which a restore changes); and items' attributes, which would unpickle in time
    quadratic in their count. By exact type, so the millions of other objects cost pickle no Python call."""
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict

    from arcollect.local.outbox import _StampedMessageList, _StampedSmsDict

    table: dict[type, Callable[[Any], Any]] = dict(copyreg.dispatch_table)
    # An item's attributes: moto's dict re-measures the whole item on every key set, O(attributes²).
    table[LimitedSizeDict] = lambda attributes: (_limited_size_dict, (dict(attributes),))
    table[_LOCK_TYPES[0]] = lambda lock: (threading.Lock, ())
    table[_LOCK_TYPES[1]] = lambda lock: (threading.RLock, ())
    table[threading.Condition] = lambda condition: (threading.Condition, ())
    for key_type in _private_key_types():
        table[key_type] = _reduce_private_key
    table[_StampedMessageList] = lambda stamped: (
        _stamped_messages,
        (list(stamped), [stamped.sent_at.get(id(m)) for m in stamped]),
    )
    table[_StampedSmsDict] = lambda stamped: (_stamped_sms, (dict(stamped), dict(stamped.sent_at)))
    return table


@contextmanager
def _without_gc() -> Iterator[None]:
    """The cyclic collector would walk the growing heap again and again while millions of objects are
    (un)pickled; none of them is garbage meanwhile."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _backend_dict(service: str) -> Any:
    from moto.backends import get_backend

    return get_backend(service)  # type: ignore[call-overload]


def capture_backends(services: tuple[str, ...] = SNAPSHOT_SERVICES) -> bytes:
    """Every account's and region's backend of `services`, pickled. Call with the gate closed."""
    from moto.s3.models import s3_backends

    backends = {name: {account: dict(regions) for account, regions in _backend_dict(name).items()} for name in services}
    s3_bucket_accounts = dict(s3_backends.bucket_accounts)
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _dispatch_table()
    with _without_gc():
        pickler.dump((backends, s3_bucket_accounts))
    return buffer.getvalue()


def restore_backends(data: bytes) -> list[str]:
    """Put captured backends in place of the current ones (on an emulator just reset, before anything is
    provisioned). Returns the services restored. Raises what unpickling raises on a foreign snapshot."""
    from moto.s3.models import s3_backends

    with _without_gc():
        backends, s3_bucket_accounts = pickle.loads(data)  # our own file: persistence.py says why it is trusted
    for name, accounts in backends.items():
        backend_dict = _backend_dict(name)
        for account, regions in accounts.items():
            for region, backend in regions.items():
                backend_dict[account][region] = backend
    s3_backends.bucket_accounts.update(s3_bucket_accounts)
    return sorted(backends)
