"""Fault injection: errors after the fact, stalls, resets and 429s, as the client sees them."""

from __future__ import annotations

import time
import uuid

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.requests import MarketOrderRequest

from alpaca_nb.sim import Simulator
from tests.conftest import trading_client

ORDER = {"symbol": "KO", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"}


def _headers(sim: Simulator) -> dict[str, str]:
    key, secret = sim.credentials()
    return {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret}


def _post_order(sim: Simulator, coid: str, timeout: float = 5) -> requests.Response:
    return requests.post(
        sim.base_url + "/v2/orders",
        json={**ORDER, "client_order_id": coid},
        headers=_headers(sim),
        timeout=timeout,
    )


def _by_coid(sim: Simulator, coid: str) -> requests.Response:
    return requests.get(
        sim.base_url + "/v2/orders:by_client_order_id",
        params={"client_order_id": coid},
        headers=_headers(sim),
        timeout=5,
    )


def test_504_after_acceptance_leaves_exactly_one_order(fresh_sim: Simulator) -> None:
    fresh_sim.faults.fail("POST", "/v2/orders", 504, after_apply=True)
    coid = str(uuid.uuid4())
    answer = _post_order(fresh_sim, coid)
    assert answer.status_code == 504 and answer.json()["code"] == 50410000
    found = _by_coid(fresh_sim, coid)
    assert found.status_code == 200 and found.json()["client_order_id"] == coid
    assert len(fresh_sim.orders()) == 1
    # A blind resend (what alpaca-py does on 504) is refused as a duplicate: still one order.
    resend = _post_order(fresh_sim, coid)
    assert resend.status_code == 422 and resend.json()["message"] == "client_order_id must be unique"
    assert len(fresh_sim.orders()) == 1


def test_alpaca_py_retries_a_post_after_504(fresh_sim: Simulator) -> None:
    """Why the toolkit wraps submit_order: alpaca-py retries POST on 504 and then reports a 422."""
    client = trading_client(fresh_sim)
    fresh_sim.faults.fail("POST", "/v2/orders", 504, after_apply=True)
    with pytest.raises(APIError) as err:
        client.submit_order(
            MarketOrderRequest(symbol="KO", qty=1, side="buy", time_in_force="day", client_order_id="once")
        )
    assert err.value.status_code == 422  # the order exists, yet the caller sees an error
    assert len(fresh_sim.orders()) == 1


def test_504_before_acceptance_creates_nothing(fresh_sim: Simulator) -> None:
    fresh_sim.faults.fail("POST", "/v2/orders", 504)
    coid = str(uuid.uuid4())
    assert _post_order(fresh_sim, coid).status_code == 504
    assert _by_coid(fresh_sim, coid).status_code == 404 and fresh_sim.orders() == []


def test_stall_holds_a_request(fresh_sim: Simulator) -> None:
    fresh_sim.faults.stall("GET", "/v2/account", seconds=1.5)
    start = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        requests.get(fresh_sim.base_url + "/v2/account", headers=_headers(fresh_sim), timeout=0.5)
    assert 0.5 <= time.monotonic() - start < 1.4
    start = time.monotonic()
    assert requests.get(fresh_sim.base_url + "/v2/account", headers=_headers(fresh_sim), timeout=5).ok
    assert time.monotonic() - start < 0.5  # the rule was used up


def test_stalled_order_is_still_applied_after_the_client_gives_up(fresh_sim: Simulator) -> None:
    fresh_sim.faults.stall("POST", "/v2/orders", seconds=0.8)
    coid = str(uuid.uuid4())
    with pytest.raises(requests.ReadTimeout):
        _post_order(fresh_sim, coid, timeout=0.2)
    assert _by_coid(fresh_sim, coid).status_code == 404  # not yet...
    time.sleep(1.0)
    assert _by_coid(fresh_sim, coid).status_code == 200  # ...but it lands


@pytest.mark.parametrize("after_apply", [False, True])
def test_connection_reset(fresh_sim: Simulator, after_apply: bool) -> None:
    fresh_sim.faults.reset("POST", "/v2/orders", after_apply=after_apply)
    coid = str(uuid.uuid4())
    with pytest.raises(requests.ConnectionError):
        _post_order(fresh_sim, coid)
    assert (_by_coid(fresh_sim, coid).status_code == 200) is after_apply


def test_429_and_globs_and_clear(fresh_sim: Simulator) -> None:
    fresh_sim.faults.fail("GET", "/v2/orders/*", 429, times=2)
    url = fresh_sim.base_url + f"/v2/orders/{uuid.uuid4()}"
    answers = [requests.get(url, headers=_headers(fresh_sim), timeout=5) for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 404]
    assert answers[0].headers["Retry-After"] == "1"
    assert answers[0].json() == {"code": 42910000, "message": "rate limit exceeded"}
    fresh_sim.faults.fail("GET", "/v2/clock", 500, times=5)
    fresh_sim.faults.clear()
    assert requests.get(fresh_sim.base_url + "/v2/clock", headers=_headers(fresh_sim), timeout=5).ok
    with pytest.raises(ValueError):
        fresh_sim.faults.fail("GET", "/v2/clock", 200)


@pytest.mark.parametrize("after_apply", [False, True], ids=["before-apply", "after-apply"])
def test_truncated_answer_breaks_the_connection(fresh_sim: Simulator, after_apply: bool) -> None:
    fresh_sim.faults.truncate("POST", "/v2/orders", after_apply=after_apply)
    coid = str(uuid.uuid4())
    with pytest.raises(requests.exceptions.ChunkedEncodingError) as err:
        _post_order(fresh_sim, coid)
    assert "IncompleteRead" in str(err.value)  # headers came, then fewer bytes than Content-Length
    assert (_by_coid(fresh_sim, coid).status_code == 200) is after_apply
    assert len(fresh_sim.orders()) == int(after_apply)
    assert _post_order(fresh_sim, str(uuid.uuid4())).status_code == 200  # one request only


def test_truncated_get_through_alpaca_py(fresh_sim: Simulator) -> None:
    client = trading_client(fresh_sim)
    fresh_sim.faults.truncate("GET", "/v2/account", times=2)
    for _ in range(2):
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            client.get_account()
    assert client.get_account().status == "ACTIVE"


@pytest.mark.parametrize("after_apply", [False, True], ids=["before-apply", "after-apply"])
def test_garbage_answer_is_200_but_not_json(fresh_sim: Simulator, after_apply: bool) -> None:
    fresh_sim.faults.garbage("POST", "/v2/orders", after_apply=after_apply)
    coid = str(uuid.uuid4())
    answer = _post_order(fresh_sim, coid)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/json")
    with pytest.raises(requests.exceptions.JSONDecodeError):
        answer.json()
    found = _by_coid(fresh_sim, coid)
    assert (found.status_code == 200) is after_apply
    assert len(fresh_sim.orders()) == int(after_apply)
    if after_apply:  # the real answer cut off half-way: it starts as the order that was placed
        assert answer.text.startswith(f'{{"id":"{found.json()["id"]}","client_order_id":"{coid}"')
    else:
        assert answer.text.startswith("<html>")


def test_garbage_through_alpaca_py_and_custom_body(fresh_sim: Simulator) -> None:
    client = trading_client(fresh_sim)
    fresh_sim.faults.garbage("GET", "/v2/clock", body=b'{"timestamp": "2024-')
    with pytest.raises(requests.exceptions.JSONDecodeError):
        client.get_clock()
    assert client.get_clock().is_open


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, {"code": 50010000, "message": "internal server error"}),
        (502, {"code": 50210000, "message": "bad gateway"}),
        (503, {"code": 50310000, "message": "service unavailable"}),
    ],
)
def test_server_errors_have_alpaca_bodies(fresh_sim: Simulator, status: int, body: dict[str, object]) -> None:
    client = trading_client(fresh_sim)
    fresh_sim.faults.fail("GET", "/v2/account", status)
    with pytest.raises(APIError) as err:
        client.get_account()
    assert err.value.status_code == status
    assert (err.value.code, err.value.message) == (body["code"], body["message"])
    fresh_sim.faults.fail("GET", "/v2/account", status)
    raw = requests.get(fresh_sim.base_url + "/v2/account", headers=_headers(fresh_sim), timeout=5)
    assert raw.headers["Content-Type"].startswith("application/json") and raw.json() == body
