"""`arcollect local`: start the emulator on the data saved by the last run, route Lambda to our handlers,
poll the drop folder's queue, serve the API, optionally load the demo ledger into an empty system, publish
`.arcollect/local.json`, save the data every minute and on Ctrl-C or SIGTERM, and stop cleanly.

Readiness: `/health` answers 503 `{"status": "starting"}` until everything (the demo ledger included) is in
place and local.json is written, then the API's own 200 `{"status": "ok"}`."""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from werkzeug.wrappers import Request, Response

from arcollect.local import lambda_router, outbox
from arcollect.local.deployment import LocalDeployment
from arcollect.local.dunning_resources import DunningResources, provision_dunning
from arcollect.local.emulator import Emulator
from arcollect.local.gateway import OUTBOX_PATH, LocalGateway
from arcollect.local.persistence import LocalStore, PeriodicSaver, SavedStateError, SavedStateInfo
from arcollect.local.portal_page import install_portal_page
from arcollect.local.provisioning import TableSchemaChanged
from arcollect.local.queue_poller import QueuePoller, router_invoke
from arcollect.local.scheduler import LocalScheduler
from arcollect.local.ses_mailbox_simulator import MailboxSimulator, topic_publisher
from arcollect.local.state import STATE_DIR, LocalState, remove_local_state, write_local_state
from shared.clock import clock_for

HEALTH_PATH = "/health"
STANDARD_POLICY = Path(__file__).resolve().parents[2] / "shared" / "dunning" / "standard_policy.yaml"
FRESH_HINT = "start with `arcollect local --fresh` to discard it and begin empty"


@dataclass(frozen=True)
class LocalOptions:
    port: int = 8000
    demo: bool = False
    today: dt.date | None = None  # the system's "today"; None: the clock's
    host: str = "127.0.0.1"
    state_dir: Path | None = None  # where `.arcollect/` goes; None: the current directory
    fresh: bool = False  # discard the data saved by earlier runs
    save_interval: float = 60.0  # seconds between saves while running: what a crash can lose at most

    @property
    def data_dir(self) -> Path:
        return (self.state_dir or Path.cwd()) / STATE_DIR


class LocalEvents(Protocol):
    """What the command line shows while the system starts, runs and stops."""

    def discarded(self, path: Path) -> None: ...
    def restored(self, info: SavedStateInfo, seconds: float) -> None: ...
    def serving(self, system: LocalSystem, seconds: float) -> None: ...
    def demo_loaded(self, reports: Mapping[str, Any], seconds: float) -> None: ...
    def demo_skipped(self) -> None: ...
    def sign_in(self, customer_id: str, url: str, expires_at: dt.datetime) -> None: ...
    def ready(self, state: LocalState, seconds: float) -> None: ...
    def saved(self, path: Path, seconds: float) -> None: ...
    def save_failed(self, reason: str) -> None: ...
    def stopped(self) -> None: ...


class AlreadyRunning(Exception):
    """Another local system holds this directory's data."""


class LocalSystem:
    def __init__(
        self, options: LocalOptions, deployment: LocalDeployment | None = None, store: LocalStore | None = None
    ):
        self.options = options
        self.deployment = deployment or LocalDeployment()
        self.store = store or LocalStore(options.data_dir)
        self.emulator = Emulator(self.deployment, host=options.host)
        self.router = lambda_router.LambdaRouter(self.deployment.resource_prefix)
        self.gateway: LocalGateway | None = None
        self.poller: QueuePoller | None = None
        self.pollers: list[QueuePoller] = []
        self.scheduler: LocalScheduler | None = None
        self.dunning: DunningResources | None = None
        self.demo_policy: dict[str, Any] | None = None
        self.started_at = dt.datetime.now(dt.UTC)
        self.ready = threading.Event()
        # Saving is allowed only once the saved state was restored (or there was none): a system that failed
        # to restore must never overwrite the user's data with an empty emulator.
        self._may_save = False
        self._saved_generation = -1
        self._save_lock = threading.Lock()

    @property
    def api_url(self) -> str:
        if self.gateway is None:
            raise RuntimeError("the local system is not started")
        return self.gateway.url

    @property
    def outbox_url(self) -> str:
        return f"{self.api_url}{OUTBOX_PATH}"

    def start(self, restore: bool = False) -> None:
        """Everything the API needs, with `restore` on the data the last run saved; /health says "starting"
        until `mark_ready`. The demo ledger is loaded separately."""
        from moto.core import DEFAULT_ACCOUNT_ID

        self.gateway = LocalGateway(
            region=self.deployment.region,
            account_id=DEFAULT_ACCOUNT_ID,
            stage=self.deployment.stage,
            function_name=self.router.function_name("api"),
            authorizer_name=self.router.function_name("portal_authorizer"),
            host=self.options.host,
            port=self.options.port,
        )
        for method in ("GET", "HEAD"):
            self.gateway.add_route(method, HEALTH_PATH, self._health)
        install_portal_page(self.gateway)
        # Claim the port first: a port in use should fail in a moment, not after provisioning.
        self.gateway.bind()
        self.emulator.start()
        if restore:
            self._restore()
        try:
            self.emulator.provision()
        except TableSchemaChanged as exc:
            raise SavedStateError(f"the saved state {self.store.path} does not fit: {exc}; {FRESH_HINT}") from None
        self._may_save = True
        today = self.options.today.isoformat() if self.options.today is not None else None
        environment = self.emulator.export_environment(today=today, portal_url=self.gateway.url)
        lambda_router.install(self.router)
        arns = self.router.provision(self.emulator.client("iam"), self.emulator.client("lambda"))
        self.dunning = provision_dunning(
            self.emulator.client, self.deployment, lambda name: arns[self.router.function_name(name)]
        )
        simulator = MailboxSimulator(topic_publisher(self.emulator.client("sns"), self.dunning.feedback_topic_arn))
        outbox.start_recording(environment.region, on_email=simulator)
        self._start_poller(arns)
        self._start_dunning_pollers(arns)
        self.scheduler = LocalScheduler(
            self.emulator.client("scheduler"),
            self.emulator.client("stepfunctions"),
            self.dunning.schedule_group,
            today=self.options.today,
            lambda_client=self.emulator.client("lambda"),
        )
        self.scheduler.start()
        self.gateway.outbox_labels = sms_labels
        self.gateway.start()

    def _start_dunning_pollers(self, arns: Mapping[str, str]) -> None:
        assert self.dunning is not None
        for name, queue in (
            ("dunning_send_retry", self.dunning.send_retry),
            ("email_feedback", self.dunning.email_feedback),
            ("portal_link_requests", self.dunning.link_requests),
        ):
            function_name = self.router.function_name(name)
            invoke = router_invoke(self.router, function_name, arns[function_name])
            poller = QueuePoller(self.emulator.client("sqs"), queue.url, queue.arn, self.deployment.region, invoke)
            poller.start()
            self.pollers.append(poller)

    def _restore(self) -> None:
        """In its own frame, so the file's bytes are freed as soon as the data is back."""
        payload, _ = self.store.read()
        try:
            self.emulator.restore(payload)
        except Exception as exc:
            raise SavedStateError(
                f"the saved state {self.store.path} cannot be restored ({type(exc).__name__}); {FRESH_HINT}"
            ) from None

    def _start_poller(self, arns: Mapping[str, str]) -> None:
        queue = self.emulator.ingest_queue
        if queue is None:
            return
        function_name = self.router.function_name("ledger_ingest")
        invoke = router_invoke(self.router, function_name, arns[function_name])
        self.poller = QueuePoller(self.emulator.client("sqs"), queue.url, queue.arn, self.deployment.region, invoke)
        self.poller.start()

    def _health(self, request: Request) -> Response:
        if self.ready.is_set() and self.gateway is not None:
            return self.gateway._invoke_api(request)  # the API's own answer, as in AWS
        return Response('{"status":"starting"}', status=503, headers={"Retry-After": "1"}, mimetype="application/json")

    def mark_ready(self) -> None:
        self.ready.set()

    def is_empty(self) -> bool:
        """No customer and no invoice: the demo ledger may go in."""
        dynamodb = self.emulator.client("dynamodb")
        for table in ("customers", "invoices"):
            if dynamodb.scan(TableName=f"{self.deployment.table_prefix}{table}", Limit=1, Select="COUNT")["Count"]:
                return False
        return True

    def load_demo(self) -> dict[str, Any]:
        """Stopped halfway, the system saves nothing: a half-loaded demo would be kept, and never completed
        (the demo goes only into an empty system)."""
        from arcollect.local.demo import generate_demo_ledger, load_demo
        from shared.ledger.importer import build_importer
        from shared.settings import runtime_settings

        clock = clock_for(self.options.today)
        importer = build_importer(runtime_settings(), clock)
        may_save, self._may_save = self._may_save, False
        reports = load_demo(importer, generate_demo_ledger(clock().date()))
        self.demo_policy = apply_standard_policy(clock())
        self._may_save = may_save
        return reports

    def demo_sign_in(self) -> tuple[str, str, dt.datetime] | None:
        """(customer id, link, expiry) for the demo customer with the most open invoices: the new user is one
        click away from the portal. None when the system holds no customer with an open invoice."""
        from shared.data.tables import CustomerRecord
        from shared.portal.access import issue_portal_link
        from shared.portal.service import portal_services

        candidates = [c for c in CustomerRecord.scan(limit=200) if int(c.open_invoices or 0) > 0 and c.ap_email]
        if not candidates:
            return None
        chosen = max(candidates, key=lambda c: (int(c.open_invoices or 0), c.customer_id))
        services = portal_services()
        link = issue_portal_link(chosen.customer_id, services.clock(), services.signer, self.api_url)
        return chosen.customer_id, link.url, link.expires_at

    def save(self, timeout: float = 10.0) -> bool:
        """Write the emulator's data to `.arcollect/` if anything reached it since the last save. Returns
        whether it wrote; TimeoutError when the emulator stayed busy (try again later)."""
        with self._save_lock:
            if not self._may_save or self.emulator.requests_served == self._saved_generation:
                return False
            payload, generation = self.emulator.capture(timeout)
            self.store.write(payload, dt.datetime.now(dt.UTC))
            self._saved_generation = generation
            return True

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

    def stop(self, events: LocalEvents | None = None) -> None:
        """Stop taking work (poller, API), save the data, then stop the emulator."""
        self.ready.clear()
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None
        if self.poller is not None:
            self.poller.stop()
            self.poller = None
        for poller in self.pollers:
            poller.stop()
        self.pollers = []
        remove_local_state(self.options.state_dir, pid=os.getpid())
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None
        if self._may_save:
            self._final_save(events)
            self._may_save = False
        lambda_router.uninstall()
        self.emulator.stop()

    def _final_save(self, events: LocalEvents | None) -> None:
        began = time.perf_counter()
        # Other processes (an import in another terminal) may still be talking to the emulator.
        for _ in range(6):
            try:
                if self.save(timeout=10.0) and events is not None:
                    events.saved(self.store.path, time.perf_counter() - began)
                return
            except TimeoutError:
                continue
            except OSError as exc:
                if events is not None:
                    events.save_failed(f"cannot write {self.store.path}: {exc.strerror or exc}")
                return
        if events is not None:
            events.save_failed("the emulator stayed busy for a minute; the previous save is kept")


def _zulu(value: str | None) -> str | None:
    if not value:
        return None
    moment = dt.datetime.fromisoformat(value).astimezone(dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sms_labels() -> dict[str, dict[str, Any]]:
    """What each SMS sent was about, from the send records (moto's SNS keeps only the number and the text)."""
    from shared.data.tables import SendRecord

    labels = {}
    for send in SendRecord.scan(SendRecord.channel == "sms"):
        if send.message_id:
            labels[send.message_id] = {
                "customer_id": send.customer_id,
                "invoice_ids": list(send.invoice_ids or []),
                "steps": list(send.steps or []),
                "sent_at": _zulu((send.details or {}).get("sent_at")),
            }
    return labels


def apply_standard_policy(now: dt.datetime) -> dict[str, Any]:
    """The demo dunns at once: the standard policy file (shared/dunning/standard_policy.yaml) is applied unless
    a policy is already active."""
    from shared.dunning.policy import parse_policy_file
    from shared.dunning.policy_store import PolicyStore

    store = PolicyStore()
    active = store.active()
    if active is not None:
        return {"version": active[0], "applied": False}
    text = STANDARD_POLICY.read_text()
    return {"version": store.apply(parse_policy_file(text), text, "demo", now), "applied": True}


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
    """Run until SIGINT/SIGTERM (or `until` is set). Raises AlreadyRunning when another system holds the
    directory and SavedStateError when the saved data cannot be used, before anything starts.
    `.arcollect/local.json` is written once everything, demo ledger included, is in place, and removed on
    the way out; the data is saved every `save_interval` seconds and on the way out."""
    began = time.perf_counter()
    store = LocalStore(options.data_dir)
    if not store.acquire():
        raise AlreadyRunning(f"a local system is already running in {options.data_dir.parent}")
    try:
        info: SavedStateInfo | None = None
        if options.fresh:
            if store.discard():
                events.discarded(store.path)
        elif store.exists():
            _, info = store.read()  # refused here, before anything starts, if it cannot be used
        _run(LocalSystem(options, store=store), events, until or threading.Event(), info, began)
    finally:
        store.release()
    events.stopped()


def _run(
    system: LocalSystem,
    events: LocalEvents,
    stop: threading.Event,
    info: SavedStateInfo | None,
    began: float,
) -> None:
    options = system.options
    saver = PeriodicSaver(system.save, interval=options.save_interval)
    with _stop_on_signals():
        try:
            system.start(restore=info is not None)
            events.serving(system, time.perf_counter() - began)
            if info is not None:
                events.restored(info, time.perf_counter() - began)
            if options.demo:
                if system.is_empty():
                    demo_began = time.perf_counter()
                    reports = system.load_demo()
                    events.demo_loaded(reports, time.perf_counter() - demo_began)
                else:
                    events.demo_skipped()
                sign_in = system.demo_sign_in()
                if sign_in is not None:
                    events.sign_in(*sign_in)
            saver.start()
            state = system.state()
            write_local_state(state, options.state_dir)
            system.mark_ready()
            events.ready(state, time.perf_counter() - began)
            # Short waits keep the main thread returning to Python so a signal is handled promptly.
            while not stop.wait(0.5):
                pass
        except StopRequested:
            pass
        finally:
            # A second Ctrl-C while shutting down must not leave local.json, the ports or a half save behind.
            _ignore_stop_signals()
            saver.stop()
            system.stop(events)
