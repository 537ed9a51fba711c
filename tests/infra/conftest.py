"""The app synthesized once per stage per session with `bundle=false` (no layer install), for the template tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from synthesized_app import Synthesized, synthesize


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize("dev", tmp_path_factory.mktemp("cdk-dev"))


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize("prod", tmp_path_factory.mktemp("cdk-prod"))


@pytest.fixture(scope="session", params=["dev", "prod"])
def stage(request: pytest.FixtureRequest) -> Iterator[Synthesized]:
    yield request.getfixturevalue(request.param)
