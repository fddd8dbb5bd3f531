"""Every REST answer is Alpaca's JSON, even for unknown routes, wrong methods and simulator bugs."""

from __future__ import annotations

import pytest
import requests
from alpaca.common.exceptions import APIError

from alpaca_nb.sim import Simulator
from tests.conftest import trading_client
from tests.schemas import SchemaChecker


def _headers(sim: Simulator) -> dict[str, str]:
    key, secret = sim.credentials()
    return {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret}


@pytest.mark.parametrize(
    ("method", "path", "status", "code", "message"),
    [
        ("GET", "/v2/no/such/route", 404, 40410000, "endpoint not found"),
        ("GET", "/v2/accounts", 404, 40410000, "endpoint not found"),  # not a stream feed either
        ("GET", "/nothing", 404, 40410000, "endpoint not found"),
        ("POST", "/v2/account", 405, 40510000, "method not allowed"),
        ("PUT", "/v2/orders/0f2c3e4a-1b2c-4d5e-8f90-a1b2c3d4e5f6", 405, 40510000, "method not allowed"),
        ("DELETE", "/v2/clock", 405, 40510000, "method not allowed"),
    ],
)
def test_unrouted_requests_answer_alpaca_json(
    sim: Simulator, method: str, path: str, status: int, code: int, message: str
) -> None:
    for headers in (_headers(sim), {}):  # with or without keys: the route is what is wrong
        answer = requests.request(method, sim.base_url + path, headers=headers, timeout=5)
        assert answer.status_code == status
        assert answer.headers["Content-Type"].startswith("application/json")
        assert answer.json() == {"code": code, "message": message}
    if status == 405:
        assert method not in answer.headers["Allow"].split(",")


def test_alpaca_py_reads_the_code_of_404_and_405(sim: Simulator, checked: SchemaChecker) -> None:
    client = trading_client(sim, checked)
    with pytest.raises(APIError) as err:
        client.get("/no/such/route")
    assert (err.value.status_code, err.value.code, err.value.message) == (404, 40410000, "endpoint not found")
    with pytest.raises(APIError) as err:
        client.post("/account", {"x": 1})
    assert (err.value.status_code, err.value.code, err.value.message) == (405, 40510000, "method not allowed")


def test_a_plain_get_on_a_stream_path_is_json_too(sim: Simulator) -> None:
    answer = requests.get(sim.base_url + "/v2/iex", headers=_headers(sim), timeout=5)
    assert answer.status_code == 400 and answer.json() == {"code": 40010000, "message": "bad request"}


def test_a_bug_in_a_handler_answers_json_500(
    fresh_sim: Simulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> dict[str, object]:
        raise ZeroDivisionError("a simulator bug")

    monkeypatch.setattr(fresh_sim.broker, "account_json", broken)
    client = trading_client(fresh_sim)
    with pytest.raises(APIError) as err:
        client.get_account()
    assert (err.value.status_code, err.value.code, err.value.message) == (
        500,
        50010000,
        "internal server error",
    )
    assert "ZeroDivisionError" in caplog.text  # and the bug is logged, not lost
    monkeypatch.undo()
    assert client.get_account().status == "ACTIVE"  # the server lives on
