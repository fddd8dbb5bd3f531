"""GET/PATCH /v2/account/configurations through alpaca-py, and what the settings change."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderStatus
from alpaca.trading.models import AccountConfiguration
from alpaca.trading.requests import MarketOrderRequest

from alpaca_nb.sim import Simulator
from tests.conftest import trading_client, wait_until
from tests.schemas import SchemaChecker

DEFAULTS = {
    "fractional_trading": True,
    "max_margin_multiplier": "2",
    "no_shorting": False,
    "suspend_trade": False,
    "trade_confirm_email": "all",
    "ptp_no_exception_entry": False,
    "max_options_trading_level": 3,  # paper accounts trade options up to level 3
    "disable_overnight_trading": False,
}


@pytest.fixture
def quick() -> Iterator[Simulator]:
    with Simulator(seed=13, hours="always", rate_limit=None, tick_interval=0.02) as sim:
        sim.set_price("KO", 50.0)
        yield sim


def _patch(sim: Simulator, body: Any, account: str = "paper") -> requests.Response:
    key, secret = sim.credentials(account)  # type: ignore[arg-type]
    return requests.patch(
        sim.base_url + "/v2/account/configurations",
        json=body,
        headers={"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret},
        timeout=5,
    )


def test_get_and_set_as_alpaca_py_does(quick: Simulator, checked: SchemaChecker) -> None:
    client = trading_client(quick, checked)
    config = client.get_account_configurations()
    assert isinstance(config, AccountConfiguration)
    # alpaca-py's model has no disable_overnight_trading (it ignores that key).
    expected = {k: v for k, v in DEFAULTS.items() if k != "disable_overnight_trading"}
    assert config.model_dump(mode="json", exclude={"dtbp_check", "pdt_check"}) == expected
    # alpaca-py PATCHes the whole model, nulls included (dtbp_check, pdt_check): those stay unset.
    config.fractional_trading = False
    config.no_shorting = True
    changed = client.set_account_configurations(config)
    assert changed.fractional_trading is False and changed.no_shorting is True
    assert client.get_account_configurations() == changed
    assert ("PATCH", "/v2/account/configurations", 200) in checked.seen
    # Per account: the live account's configuration did not move.
    live = trading_client(quick, checked, account="live").get_account_configurations()
    assert live.fractional_trading is True and live.no_shorting is False


def test_patch_of_nulls_changes_nothing(quick: Simulator) -> None:
    assert _patch(quick, {"no_shorting": True}).json()["no_shorting"] is True
    before = _patch(quick, {}).json()
    nulls = dict.fromkeys([*DEFAULTS, "dtbp_check", "pdt_check"])
    answer = _patch(quick, nulls)
    assert answer.status_code == 200 and answer.json() == before
    assert set(answer.json()) == set(DEFAULTS)  # the full object; no retired dtbp/pdt keys


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"no_shorting": "yes"}, "no_shorting must be true or false"),
        ({"max_margin_multiplier": "3"}, "max_margin_multiplier value is invalid (expected one of 1, 2, 4)"),
        ({"trade_confirm_email": "some"}, "trade_confirm_email value is invalid (expected one of all, none)"),
        ({"max_options_trading_level": 7}, "max_options_trading_level must be 0, 1, 2 or 3"),
        ({"pdt_check": "sometimes"}, "pdt_check value is invalid"),
        ({"suspend_trade": True, "fractional_trading": 1}, "fractional_trading must be true or false"),
    ],
)
def test_invalid_values_are_refused_whole(quick: Simulator, body: dict[str, Any], message: str) -> None:
    answer = _patch(quick, body)
    assert answer.status_code == 422 and answer.json() == {"code": 40010001, "message": message}
    assert _patch(quick, {}).json() == DEFAULTS  # nothing was applied, not even the valid part


def test_suspend_trade_refuses_new_orders(quick: Simulator, checked: SchemaChecker) -> None:
    client = trading_client(quick, checked)
    assert _patch(quick, {"suspend_trade": True}).status_code == 200
    assert client.get_account().trade_suspended_by_user is True
    with pytest.raises(APIError) as err:
        client.submit_order(MarketOrderRequest(symbol="KO", qty=1, side="buy", time_in_force="day"))
    assert (err.value.status_code, err.value.code) == (403, 40310000)
    assert err.value.message == "new orders are rejected by user request"
    assert quick.orders() == []
    trading_client(quick, account="live").submit_order(  # the other account trades on
        MarketOrderRequest(symbol="KO", qty=1, side="buy", time_in_force="day")
    )
    _patch(quick, {"suspend_trade": False})
    client.submit_order(MarketOrderRequest(symbol="KO", qty=1, side="buy", time_in_force="day"))
    assert len(quick.orders()) == 1


def test_no_shorting_refuses_opening_a_short_only(quick: Simulator, checked: SchemaChecker) -> None:
    client = trading_client(quick, checked)
    order = client.submit_order(MarketOrderRequest(symbol="KO", qty=10, side="buy", time_in_force="day"))
    assert wait_until(lambda: client.get_order_by_id(order.id).status == OrderStatus.FILLED)
    _patch(quick, {"no_shorting": True})
    assert client.get_account().shorting_enabled is False
    with pytest.raises(APIError) as err:  # KO is held, MSFT is not: selling it would open a short
        client.submit_order(MarketOrderRequest(symbol="MSFT", qty=1, side="sell", time_in_force="day"))
    assert (err.value.status_code, err.value.code, err.value.message) == (
        403,
        40310000,
        "account is not allowed to short",
    )
    sale = client.submit_order(MarketOrderRequest(symbol="KO", qty=10, side="sell", time_in_force="day"))
    assert wait_until(lambda: client.get_order_by_id(sale.id).status == OrderStatus.FILLED)
    with pytest.raises(APIError):  # flat now: one more share would be short
        client.submit_order(MarketOrderRequest(symbol="KO", qty=1, side="sell", time_in_force="day"))
    _patch(quick, {"no_shorting": False})
    short = client.submit_order(MarketOrderRequest(symbol="KO", qty=1, side="sell", time_in_force="day"))
    assert wait_until(lambda: client.get_order_by_id(short.id).status == OrderStatus.FILLED)
    assert client.get_open_position("KO").qty == "-1"


def test_fractional_trading_off_refuses_fractions(quick: Simulator, checked: SchemaChecker) -> None:
    client = trading_client(quick, checked)
    _patch(quick, {"fractional_trading": False})
    for request, message in [
        (MarketOrderRequest(symbol="KO", qty=0.5, side="buy", time_in_force="day"), "qty must be integer"),
        (
            MarketOrderRequest(symbol="KO", notional=100, side="buy", time_in_force="day"),
            "notional orders need fractional trading, which is off for this account",
        ),
    ]:
        with pytest.raises(APIError) as err:
            client.submit_order(request)
        assert (err.value.status_code, err.value.code, err.value.message) == (422, 40010001, message)
    whole = client.submit_order(MarketOrderRequest(symbol="KO", qty=2, side="buy", time_in_force="day"))
    assert wait_until(lambda: client.get_order_by_id(whole.id).status == OrderStatus.FILLED)


def test_margin_multiplier_one_is_a_cash_account(quick: Simulator, checked: SchemaChecker) -> None:
    client = trading_client(quick, checked)
    assert Decimal(client.get_account().buying_power) == 200_000  # type: ignore[arg-type]
    _patch(quick, {"max_margin_multiplier": "1"})
    account = client.get_account()
    assert account.multiplier == "1" and Decimal(account.buying_power) == 100_000  # type: ignore[arg-type]
    with pytest.raises(APIError) as err:  # 2,500 shares at 50.01 need more than the cash
        client.submit_order(MarketOrderRequest(symbol="KO", qty=2500, side="buy", time_in_force="day"))
    assert err.value.status_code == 403 and err.value.message == "insufficient buying power"
