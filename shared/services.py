"""What every composition root built from the settings shares: the system's clock (`--today` locally, the wall
clock in AWS) and boto3 clients on the deployment's endpoint (the emulator's locally)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from shared.clock import Clock, clock_for
from shared.settings import RuntimeSettings


@dataclass
class Services:
    settings: RuntimeSettings

    @cached_property
    def clock(self) -> Clock:
        return clock_for(self.settings.today)

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, region_name=self.settings.region, endpoint_url=self.settings.endpoint_url)
