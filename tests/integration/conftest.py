"""Fixtures of the integration tests that run the local system's emulator (a moto server in this process)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from arcollect.local.emulator import Emulator
from shared.settings import runtime_settings


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A provisioned moto server, with this process's environment restored afterwards (the emulator may
    export AWS_ENDPOINT_URL and friends, which other tests must not inherit)."""
    saved_environment = dict(os.environ)
    emulator = Emulator()
    emulator.start()
    try:
        emulator.provision()
        yield emulator
    finally:
        emulator.stop()
        os.environ.clear()
        os.environ.update(saved_environment)
        runtime_settings.cache_clear()
