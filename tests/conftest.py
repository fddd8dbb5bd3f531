"""Shared fixtures: simulators on port 0, alpaca-py clients pointed at them, and schema checks.

Every REST response that an alpaca-py client fixture receives is validated against Alpaca's
OpenAPI schema (../shared/alpaca-spec, or $ALPACA_SPEC_DIR) by a ``requests`` response hook;
a test fails at teardown if any body did not validate.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.trading.client import TradingClient

from alpaca_nb.sim import Simulator
from tests.schemas import SchemaChecker


@pytest.fixture(scope="session")
def schemas() -> SchemaChecker:
    return SchemaChecker.load()


@pytest.fixture(scope="session")
def sim() -> Iterator[Simulator]:
    """A shared simulator trading around the clock (so streams and fills work at any hour)."""
    with Simulator(seed=7, hours="always", rate_limit=None, stream_connection_limit=None) as s:
        yield s


@pytest.fixture
def fresh_sim() -> Iterator[Simulator]:
    """A simulator of the test's own (clean accounts)."""
    with Simulator(seed=11, hours="always", rate_limit=None, stream_connection_limit=None) as s:
        yield s


@pytest.fixture
def checked(schemas: SchemaChecker) -> Iterator[SchemaChecker]:
    """Collects schema violations of every response seen by clients made with ``checked.attach``."""
    schemas.failures.clear()
    schemas.seen.clear()
    yield schemas
    assert not schemas.failures, "responses that do not match Alpaca's OpenAPI:\n" + "\n".join(
        schemas.failures[:20]
    )


def trading_client(
    sim: Simulator, checked: SchemaChecker | None = None, account: str = "paper"
) -> TradingClient:
    key, secret = sim.credentials(account)  # type: ignore[arg-type]
    client = TradingClient(key, secret, url_override=sim.base_url)
    if checked is not None:
        checked.attach(client)
    return client


def data_client(sim: Simulator, checked: SchemaChecker | None = None) -> StockHistoricalDataClient:
    key, secret = sim.credentials("paper")
    client = StockHistoricalDataClient(key, secret, url_override=sim.base_url)
    if checked is not None:
        checked.attach(client)
    return client


@pytest.fixture
def trading(sim: Simulator, checked: SchemaChecker) -> TradingClient:
    return trading_client(sim, checked)


@pytest.fixture
def data(sim: Simulator, checked: SchemaChecker) -> StockHistoricalDataClient:
    return data_client(sim, checked)


@contextlib.contextmanager
def running(stream: Any) -> Iterator[Any]:
    """Run an alpaca-py stream (StockDataStream/TradingStream) in a thread; stop and join it after."""
    thread = threading.Thread(target=stream.run, daemon=True)
    thread.start()
    try:
        yield stream
    finally:
        stream.stop()
        thread.join(15)
        assert not thread.is_alive(), "alpaca-py stream thread did not stop"


def run_async(make: Any, timeout: float = 60.0) -> Any:
    """Run ``make()``'s coroutine on a fresh loop in its own thread.

    Playwright's sync API keeps an event loop running in the main thread, so ``asyncio.run`` there
    would fail once the browser tests have started.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(make())
        except BaseException as err:  # re-raised in the caller's thread
            box["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "coroutine did not finish"
    if "error" in box:
        raise box["error"]
    return box.get("value")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: they are the slowest, and a failure elsewhere should show first."""
    items.sort(key=lambda item: "e2e" in item.path.parts)


def wait_until(predicate: Any, timeout: float = 10.0, interval: float = 0.02) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
