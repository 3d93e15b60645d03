"""Fixtures for the guard tests: one stub model server for the module, and config helpers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from guard_support import FakeModelArmor, ServerThread, Upstream


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    stub = Upstream()
    with ServerThread(stub.app) as server:
        stub.url = server.url  # type: ignore[attr-defined]
        yield stub
        stub.release()


@pytest.fixture(autouse=True)
def _fresh_upstream(request: pytest.FixtureRequest) -> None:
    if "upstream" in request.fixturenames:
        stub = request.getfixturevalue("upstream")
        stub.received.clear()
        stub.entered.clear()
        stub.healthy = True


@pytest.fixture(scope="module")
def model_armor() -> Iterator[FakeModelArmor]:
    fake = FakeModelArmor()
    with ServerThread(fake.app) as server:
        fake.url = server.url  # type: ignore[attr-defined]
        yield fake
