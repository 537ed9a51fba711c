"""`arcollect local`: start the emulator, route Lambda to our handlers, serve the API, optionally load the
demo ledger, publish `.arcollect/local.json`, and stop cleanly on Ctrl-C or SIGTERM."""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from arcollect.local import lambda_router, outbox
from arcollect.local.deployment import LocalDeployment
from arcollect.local.emulator import Emulator
from arcollect.local.gateway import OUTBOX_PATH, LocalGateway
from arcollect.local.state import LocalState, remove_local_state, write_local_state


@dataclass(frozen=True)
class LocalOptions:
    port: int = 8000
    demo: bool = False
    today: dt.date | None = None  # the system's "today"; None: the clock's
    host: str = "127.0.0.1"
    state_dir: Path | None = None  # where `.arcollect/` goes; None: the current directory


class LocalEvents(Protocol):
    """What the command line shows while the system starts, runs and stops."""

    def serving(self, system: LocalSystem, seconds: float) -> None: ...
    def demo_loaded(self, reports: Mapping[str, Any], seconds: float) -> None: ...
    def ready(self, state: LocalState, seconds: float) -> None: ...
    def stopped(self) -> None: ...


def clock_for(today: dt.date | None) -> Callable[[], dt.datetime]:
    """Now, or — with `--today` — the wall-clock time of day on that date, so stamps stay ordered."""
    if today is None:
        return lambda: dt.datetime.now(dt.UTC)
    return lambda: dt.datetime.combine(today, dt.datetime.now(dt.UTC).timetz())


class LocalSystem:
    def __init__(self, options: LocalOptions, deployment: LocalDeployment | None = None):
        self.options = options
        self.deployment = deployment or LocalDeployment()
        self.emulator = Emulator(self.deployment, host=options.host)
        self.router = lambda_router.LambdaRouter(self.deployment.resource_prefix)
        self.gateway: LocalGateway | None = None
        self.started_at = dt.datetime.now(dt.UTC)

    @property
    def api_url(self) -> str:
        if self.gateway is None:
            raise RuntimeError("the local system is not started")
        return self.gateway.url

    @property
    def outbox_url(self) -> str:
        return f"{self.api_url}{OUTBOX_PATH}"

    def start(self) -> None:
        """Everything /health needs, and nothing slower: the demo ledger is loaded separately."""
        from moto.core import DEFAULT_ACCOUNT_ID

        self.gateway = LocalGateway(
            region=self.deployment.region,
            account_id=DEFAULT_ACCOUNT_ID,
            stage=self.deployment.stage,
            function_name=self.router.function_name("api"),
            host=self.options.host,
            port=self.options.port,
        )
        # Claim the port first: a port in use should fail in a moment, not after provisioning.
        self.gateway.bind()
        self.emulator.start()
        self.emulator.provision()
        environment = self.emulator.export_environment()
        if self.options.today is not None:
            os.environ["ARCOLLECT_TODAY"] = self.options.today.isoformat()
        lambda_router.install(self.router)
        self.router.provision(self.emulator.client("iam"), self.emulator.client("lambda"))
        outbox.start_recording(environment.region)
        self.gateway.start()

    def load_demo(self) -> dict[str, Any]:
        from arcollect.local.demo import generate_demo_ledger, load_demo
        from shared.ledger.importer import build_importer
        from shared.settings import runtime_settings

        clock = clock_for(self.options.today)
        importer = build_importer(runtime_settings(), clock)
        return load_demo(importer, generate_demo_ledger(clock().date()))

    def state(self) -> LocalState:
        deployment = self.deployment
        return LocalState(
            api_url=self.api_url,
            endpoint_url=self.emulator.endpoint_url,
            region=deployment.region,
            table_prefix=deployment.table_prefix,
            stage=deployment.stage,
            tin_key_id=deployment.tin_key_alias,
            tin_mac_key_id=deployment.tin_mac_key_alias,
            ingest_bucket=deployment.ingest_bucket,
            pid=os.getpid(),
            started_at=self.started_at,
            today=self.options.today,
        )

    def stop(self) -> None:
        remove_local_state(self.options.state_dir, pid=os.getpid())
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None
        lambda_router.uninstall()
        self.emulator.stop()


class StopRequested(BaseException):
    """Raised in the main thread by SIGINT/SIGTERM, wherever it is (starting, loading the demo, idle).
    A BaseException, like KeyboardInterrupt, so no `except Exception` on the way swallows it."""


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Signal handlers can only be set from the main thread; elsewhere (tests) the caller's event stops."""
    if not _in_main_thread():
        yield
        return

    def request_stop(signum: int, frame: Any) -> None:
        raise StopRequested(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, request_stop) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _ignore_stop_signals() -> None:
    if _in_main_thread():
        for sig in _STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


def run_local_system(options: LocalOptions, events: LocalEvents, until: threading.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or `until` is set). `.arcollect/local.json` is written once everything,
    demo ledger included, is in place, and removed on the way out."""
    began = time.perf_counter()
    system = LocalSystem(options)
    stop = until or threading.Event()
    with _stop_on_signals():
        try:
            system.start()
            events.serving(system, time.perf_counter() - began)
            if options.demo:
                demo_began = time.perf_counter()
                reports = system.load_demo()
                events.demo_loaded(reports, time.perf_counter() - demo_began)
            state = system.state()
            write_local_state(state, options.state_dir)
            events.ready(state, time.perf_counter() - began)
            # Short waits keep the main thread returning to Python so a signal is handled promptly.
            while not stop.wait(0.5):
                pass
        except StopRequested:
            pass
        finally:
            # A second Ctrl-C while shutting down must not leave local.json or the ports behind.
            _ignore_stop_signals()
            system.stop()
    events.stopped()
