"""trading.requests and trading.checks on their own: the field rules and the one pre-trade policy."""

from __future__ import annotations

from typing import Any

import pytest

from alpaca_nb import errors
from alpaca_nb._wire import Quote
from alpaca_nb.trading import Limits, build_order_request, check_order

QUOTE = Quote(0, 99.0, 100, 101.0, 100)


class View:
    """A MarketView with fixed answers (what the session's view would have looked up)."""

    def __init__(self, quote: Quote | None = QUOTE, held: float = 0.0,
                 buying_power: float = 100_000.0, **asset: Any) -> None:  # fmt: skip
        self._quote, self._held, self._bp = quote, held, buying_power
        self._working: tuple[float, float] = asset.pop("working", (0.0, 0.0))
        self._asset = {"status": "active", "tradable": True, "fractionable": True, "shortable": True, **asset}

    def asset(self, symbol: str) -> dict[str, Any]:
        return self._asset

    def quote(self, symbol: str) -> tuple[Quote | None, str]:
        return self._quote, "stream"

    def buying_power(self) -> float:
        return self._bp

    def position_qty(self, symbol: str) -> float:
        return self._held

    def working_qty(self, symbol: str) -> tuple[float, float]:
        return self._working


NONE = Limits()


def test_no_price_is_refused_never_zero() -> None:
    market = build_order_request("AAPL", qty=400)
    for quote in (None, Quote(0, 0.0, 0, 0.0, 0)):
        with pytest.raises(errors.PreTradeRefusal, match="no price for AAPL"):
            check_order(market, View(quote=quote), Limits(max_notional=50_000), "paper")
    checked = check_order(market, View(), NONE, "paper")
    assert checked.estimate == 400 * 101.0 and checked.price_source == "stream ask"
    sell = build_order_request("AAPL", qty=1, side="sell")
    assert check_order(sell, View(held=5), NONE, "paper").price == 99.0  # sells at the bid


def test_limits_shorting_and_buying_power() -> None:
    buy = build_order_request("AAPL", qty=10, type="limit", limit_price=100)
    with pytest.raises(errors.PreTradeRefusal, match="max_notional"):
        check_order(buy, View(), Limits(max_notional=999), "paper")
    with pytest.raises(errors.PreTradeRefusal, match="max_position 12"):
        check_order(buy, View(held=5), Limits(max_position=12), "paper")
    with pytest.raises(errors.PreTradeRefusal, match="buying power"):
        check_order(buy, View(buying_power=500), NONE, "paper")
    short = build_order_request("AAPL", qty=10, side="sell")
    with pytest.raises(errors.PreTradeRefusal, match="not shortable"):
        check_order(short, View(held=4, shortable=False), NONE, "paper")
    assert check_order(short, View(held=10, shortable=False), NONE, "paper").estimate == 990.0
    with pytest.raises(errors.PreTradeRefusal, match="not fractionable"):
        check_order(build_order_request("AAPL", qty=0.5), View(fractionable=False), NONE, "paper")
    with pytest.raises(errors.PreTradeRefusal, match="not tradable"):
        check_order(buy, View(tradable=False), NONE, "paper")
    assert Limits(1000, None).tighter(Limits(500, 7)) == Limits(500, 7)
    with pytest.raises(errors.ValidationError):
        Limits(max_notional=float("nan"))


def test_prices_on_alpacas_increments() -> None:
    assert build_order_request("AAPL", qty=1, type="limit", limit_price=1 + 0.57).limit_price == 1.57
    assert build_order_request("AAPL", qty=1, type="limit", limit_price=0.1234).limit_price == 0.1234
    for bad in (290.123, 151.515, 0.12345):
        with pytest.raises(errors.ValidationError, match="price increments"):
            build_order_request("AAPL", qty=1, type="limit", limit_price=bad)


def test_bracket_oco_oto_rules() -> None:
    stop = {"stop_price": 145, "limit_price": 144.5}
    bracket = build_order_request(
        "AAPL", qty=2, type="limit", limit_price=150, order_class="bracket", take_profit=160, stop_loss=stop
    )
    assert bracket.take_profit is not None and bracket.take_profit.limit_price == 160
    assert bracket.stop_loss is not None and bracket.stop_loss.limit_price == 144.5
    oco = build_order_request("AAPL", qty=2, side="sell", type="limit", order_class="oco",
                              take_profit=160, stop_loss=140)  # fmt: skip
    assert getattr(oco.order_class, "value", None) == "oco"
    short_bracket = build_order_request("AAPL", qty=2, side="sell", order_class="bracket", take_profit=140,
                                        stop_loss=160)  # fmt: skip
    assert short_bracket.stop_loss is not None
    bad = [
        {"order_class": "bracket", "take_profit": 140, "stop_loss": 160},  # a long bracket upside down
        {"order_class": "oco", "type": "limit", "side": "sell", "take_profit": 140, "stop_loss": 160},
        {"order_class": "bracket", "take_profit": 160},
        {"order_class": "oto", "take_profit": 160, "stop_loss": 140},
        {"order_class": "bracket", "take_profit": 160, "stop_loss": 140, "qty": 1.5},
        {"order_class": "bracket", "take_profit": 160, "stop_loss": 140, "time_in_force": "ioc"},
        {"order_class": "bracket", "take_profit": 160.001, "stop_loss": 140},
        {"order_class": "oco", "take_profit": 160, "stop_loss": 140},  # oco must be a limit order
        {"take_profit": 160},  # legs without an order class
        {"order_class": "bracket", "take_profit": {"price": 1}, "stop_loss": 140},
    ]
    for fields in bad:
        kwargs: dict[str, Any] = {"qty": 2, **fields}
        with pytest.raises(errors.ValidationError):
            build_order_request("AAPL", **kwargs)


def test_the_highest_price_the_order_may_trade_at_is_checked() -> None:
    """A sell limit far below the bid fills at the bid; a buy stop below the ask pays the ask."""
    low_sell = build_order_request("AAPL", qty=100, side="sell", type="limit", limit_price=1.00)
    checked = check_order(low_sell, View(held=100), NONE, "paper")
    assert checked.price == 99.0 and checked.estimate == 9_900.0
    with pytest.raises(errors.PreTradeRefusal, match="max_notional"):
        check_order(low_sell, View(held=100), Limits(max_notional=1_000), "paper")
    low_stop = build_order_request("AAPL", qty=100, type="stop", stop_price=1.00)
    assert check_order(low_stop, View(), NONE, "paper").price == 101.0
    capped = build_order_request("AAPL", qty=100, type="limit", limit_price=50)
    assert check_order(capped, View(quote=None), NONE, "paper").price == 50  # a buy pays at most its limit


def test_max_position_counts_the_open_orders_that_could_still_fill() -> None:
    buy = build_order_request("AAPL", qty=10, type="limit", limit_price=90, time_in_force="gtc")
    limits = Limits(max_position=10)
    assert check_order(buy, View(), limits, "paper").estimate == 900.0
    with pytest.raises(errors.PreTradeRefusal, match="with 10 more in open orders"):
        check_order(buy, View(working=(10.0, 0.0)), limits, "paper")
    sell = build_order_request("AAPL", qty=5, side="sell", type="limit", limit_price=120)
    assert check_order(sell, View(held=10, working=(10.0, 0.0)), limits, "paper").estimate == 600.0


def test_only_plain_ascii_symbols_and_numbers() -> None:
    for symbol in ("ſpy", "ıbm", "ＡＡＰＬ"):
        with pytest.raises(errors.ValidationError, match="not a valid"):
            build_order_request(symbol, qty=1)
    for qty in ("١٠", "1_000", "0x10", "1,5"):
        with pytest.raises(errors.ValidationError, match="must be a number"):
            build_order_request("AAPL", qty=qty)
    assert build_order_request("AAPL", qty=" 2.5 ").qty == 2.5
