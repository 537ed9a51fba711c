"""The embedded AWS: moto's server in this process, configured and provisioned for arcollect, whose data
can be captured and restored (see moto_snapshot.py) so the local system keeps it across restarts."""

from __future__ import annotations

import copy
import json
import logging
import os
import sys
import urllib.request
from typing import Any

import boto3
from botocore.config import Config

from arcollect.local.deployment import (
    EMULATOR_ACCESS_KEY,
    EMULATOR_SECRET_KEY,
    LocalDeployment,
    apply_environment,
)
from arcollect.local.provisioning import (
    IngestQueue,
    provision_ingest_bucket,
    provision_ingest_queue,
    provision_sender,
    provision_tables,
    provision_tin_keys,
)
from shared.data.binding import bind_tables
from shared.settings import RuntimeSettings, runtime_settings

# Run the real ASL (not moto's canned execution history) and keep Lambda in-process, without Docker;
# `lambda_router` then sends each invocation to our handlers. Applied through moto's documented
# server-mode config endpoint, which only takes these sections.
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


class Emulator:
    """moto's `ThreadedMotoServer` on a free port of `host`. No request needs a valid signature: moto
    authorizes nothing unless INITIAL_NO_AUTH_ACTION_COUNT is set, and we never set it."""

    def __init__(self, deployment: LocalDeployment | None = None, host: str = "127.0.0.1", port: int = 0):
        self.deployment = deployment or LocalDeployment()
        self._host = host
        self._requested_port = port
        self._server: Any = None
        self._port: int | None = None
        self._config_before: dict[str, Any] | None = None
        self._gate: Any = None  # moto_snapshot.RequestGate once started
        self.ingest_queue: IngestQueue | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulator is not running")
        return self._port

    @property
    def endpoint_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def start(self) -> None:
        # Imported here: moto's server pulls in werkzeug and flask, which nothing else on the CLI needs.
        from moto.core.config import default_user_config
        from moto.server import ThreadedMotoServer

        from arcollect.local import moto_fast_responses, moto_item_size, moto_transactions

        # Transactions that cost O(items touched), not O(table); item responses dumped as JSON, not walked
        # through moto's shape serializer; an item's size measured once, not once per attribute.
        moto_transactions.install()
        moto_fast_responses.install()
        moto_item_size.install()

        # moto's config is process-wide; `stop` puts it back for whatever runs in this process next (tests).
        self._config_before = copy.deepcopy({section: default_user_config.get(section) for section in MOTO_CONFIG})

        # Both moto and our gateway serve through werkzeug, which logs every request at INFO.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address=self._host, port=self._requested_port, verbose=False)
        self._server.start()
        self._port = int(self._server.get_host_and_port()[1])
        # moto's backends live in module globals, shared by every server this process ever started: begin
        # from nothing, as a fresh account would.
        self._moto_api("reset")
        self._moto_api("config", MOTO_CONFIG)
        from arcollect.local import moto_memory, moto_snapshot

        # After the reset, which would put moto's tracking lists back: a long-running system must not keep
        # every item it ever replaced.
        moto_memory.install()
        self._gate = moto_snapshot.install_gate(self._server)

    @property
    def requests_served(self) -> int:
        """How many requests the emulator has admitted: unchanged since a capture, nothing to save."""
        return int(self._gate.generation) if self._gate is not None else 0

    def capture(self, timeout: float = 10.0) -> tuple[bytes, int]:
        """The emulator's data, consistent (no request runs meanwhile), and `requests_served` at that
        moment. TimeoutError when requests kept running for `timeout` seconds."""
        from arcollect.local import moto_snapshot

        if self._gate is None:
            raise RuntimeError("the emulator is not running")
        with self._gate.closed(timeout):
            return moto_snapshot.capture_backends(), self._gate.generation

    def restore(self, payload: bytes) -> None:
        """Put captured data back: call after `start`, before `provision` (which keeps what it finds)."""
        from arcollect.local import moto_snapshot

        moto_snapshot.restore_backends(payload)

    def _moto_api(self, action: str, body: dict[str, Any] | None = None) -> None:
        """moto's documented server-mode control endpoints (/moto-api/reset, /moto-api/config)."""
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/{action}",
            data=json.dumps(body or {}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def client(self, service: str) -> Any:
        """A boto3 client bound to the emulator whatever this process's environment says."""
        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.deployment.region,
            aws_access_key_id=EMULATOR_ACCESS_KEY,
            aws_secret_access_key=EMULATOR_SECRET_KEY,
            config=Config(retries={"max_attempts": 2, "mode": "standard"}),
        )

    def provision(self) -> None:
        deployment = self.deployment
        provision_tables(self.client("dynamodb"), deployment.table_prefix)
        provision_tin_keys(self.client("kms"), deployment)
        provision_sender(self.client("ses"), deployment.sender_email)
        provision_ingest_bucket(self.client("s3"), deployment.ingest_bucket, deployment.region)
        self.ingest_queue = provision_ingest_queue(self.client("sqs"), self.client("s3"), deployment)

    def environment(self, *, today: str | None = None, portal_url: str | None = None) -> dict[str, str]:
        return self.deployment.environment(self.endpoint_url, self.port, today=today, portal_url=portal_url)

    def export_environment(self, *, today: str | None = None, portal_url: str | None = None) -> RuntimeSettings:
        """Point this process (handlers run in it) at the emulator and bind the table models to it."""
        for name in ("ARCOLLECT_TODAY", "ARCOLLECT_PORTAL_URL"):
            os.environ.pop(name, None)
        apply_environment(self.environment(today=today, portal_url=portal_url))
        runtime_settings.cache_clear()
        # Every composition root built from the environment, so handlers reach this emulator, not an earlier one.
        from shared.dunning.service import services_from_environment
        from shared.onboarding.service import onboarding_services
        from shared.portal.service import portal_services

        services_from_environment.cache_clear()
        portal_services.cache_clear()
        onboarding_services.cache_clear()
        ingest = sys.modules.get("functions.ledger_ingest.handler")  # cleared only if some system loaded it
        if ingest is not None:
            ingest.drop_folder.cache_clear()
        settings = runtime_settings()
        bind_tables(settings.table_prefix, settings.region, settings.endpoint_url)
        return settings

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
            self._gate = None
            from arcollect.local import moto_memory

            moto_memory.uninstall()
        if self._config_before is not None:
            from moto.core.config import default_user_config

            for section, value in self._config_before.items():
                if value is not None:
                    default_user_config[section] = value  # type: ignore[literal-required]
            self._config_before = None
