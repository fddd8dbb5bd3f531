"""Trading API v2 routes about the account and the market: account, configurations, clock,
calendar and assets."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from .. import calendar as cal
from ..broker import Broker
from ..http import ACCOUNT, json_response, read_json
from ..market.pairs import PairInfo
from ..market.venues import Asset
from ..wire import ApiError, iso_et


def asset_json(info: Asset) -> dict[str, Any]:
    if isinstance(info, PairInfo):
        return crypto_asset_json(info)
    return {
        "id": info.asset_id,
        "class": "us_equity",
        "exchange": info.exchange,
        "symbol": info.symbol,
        "name": info.name,
        "status": "active",
        "tradable": True,
        "marginable": True,
        "maintenance_margin_requirement": 30,
        "margin_requirement_long": "50",
        "margin_requirement_short": "50",
        "shortable": info.shortable,
        "easy_to_borrow": info.shortable,
        "borrow_status": "easy_to_borrow" if info.shortable else "hard_to_borrow",
        "fractionable": info.fractionable,
        "cusip": None,
        "attributes": ["fractional_eh_enabled"] if info.fractionable else [],
    }


def crypto_asset_json(info: PairInfo) -> dict[str, Any]:
    """A crypto Asset: ``class`` crypto, ``exchange`` CRYPTO, the increments as decimal strings."""
    return {
        "id": info.asset_id,
        "class": "crypto",
        "exchange": info.exchange,
        "symbol": info.symbol,
        "name": info.name,
        "status": "active",
        "tradable": True,
        "marginable": False,
        "maintenance_margin_requirement": 100,
        "margin_requirement_long": "100",
        "margin_requirement_short": "100",
        "shortable": False,
        "easy_to_borrow": False,
        "fractionable": True,
        "attributes": [],
        "min_order_size": info.min_order_size,
        "min_trade_increment": info.min_trade_increment,
        "price_increment": info.price_increment,
    }


class AccountRoutes:
    """Handlers bound to one broker: the account, its configurations, clock, calendar and assets."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.market = broker.market

    def add_to(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/v2/account", self.account)
        r.add_get("/v2/account/configurations", self.configurations)
        r.add_patch("/v2/account/configurations", self.configure)
        r.add_get("/v2/clock", self.clock)
        r.add_get("/v2/calendar", self.calendar)
        r.add_get("/v2/assets", self.assets)
        r.add_get("/v2/assets/{symbol}", self.asset)
        r.add_get("/v2/assets/{base}/{quote}", self.asset)  # alpaca-py sends BTC/USD unescaped

    async def account(self, request: web.Request) -> web.Response:
        return json_response(self.broker.account_json(request[ACCOUNT], self.market.now()))

    async def configurations(self, request: web.Request) -> web.Response:
        return json_response(request[ACCOUNT].config.to_json())

    async def configure(self, request: web.Request) -> web.Response:
        config = request[ACCOUNT].config
        config.update(await read_json(request))
        return json_response(config.to_json())

    async def clock(self, request: web.Request) -> web.Response:
        now = self.market.now()
        day = cal.et_day_of(now)
        is_open = self.market.is_open("SPY", now) if "SPY" in self.market.stocks.universe else False
        next_open = next_close = None
        for _ in range(15):
            sess = cal.session(day)
            if sess is not None:
                o, c = (
                    cal.et_minute_ns(day, sess.open_minute),
                    cal.et_minute_ns(day, sess.close_minute),
                )
                if next_open is None and o > now:
                    next_open = o
                if next_close is None and c > now:
                    next_close = c
            if next_open is not None and next_close is not None:
                break
            day += dt.timedelta(days=1)
        return json_response(
            {
                "timestamp": iso_et(now),
                "is_open": is_open,
                "next_open": iso_et(next_open or now),
                "next_close": iso_et(next_close or now),
            }
        )

    async def calendar(self, request: web.Request) -> web.Response:
        today = cal.et_day_of(self.market.now())
        start = _date_param(request, "start", dt.date(today.year - 1, 1, 1))
        end = _date_param(request, "end", dt.date(today.year + 1, 12, 31))
        if request.query.get("date_type", "TRADING") not in ("TRADING", "SETTLEMENT"):
            raise ApiError(400, 40010000, "invalid date_type")
        days = []
        for day in cal.trading_days(start, end):
            sess = cal.session(day)
            assert sess is not None
            days.append(
                {
                    "date": day.isoformat(),
                    "open": f"{sess.open_minute // 60:02d}:{sess.open_minute % 60:02d}",
                    "close": f"{sess.close_minute // 60:02d}:{sess.close_minute % 60:02d}",
                    "session_open": "0400",
                    "session_close": "2000",
                    "settlement_date": cal.next_trading_day(day).isoformat(),
                }
            )
        return json_response(days)

    async def assets(self, request: web.Request) -> web.Response:
        q = request.query
        asset_class = q.get("asset_class", "us_equity")  # Alpaca's default
        infos = self.market.assets(asset_class) if asset_class in ("us_equity", "crypto") else []
        if q.get("status", "active") not in ("active", ""):
            infos = []
        if "exchange" in q:
            infos = [i for i in infos if i.exchange == q["exchange"]]
        if q.get("attributes"):
            wanted = set(q["attributes"].split(","))
            infos = [i for i in infos if wanted & set(asset_json(i)["attributes"])]
        return json_response([asset_json(i) for i in infos])

    async def asset(self, request: web.Request) -> web.Response:
        m = request.match_info
        key = f"{m['base']}/{m['quote']}" if "base" in m else m["symbol"]
        info = self.market.asset(key)
        if info is None:
            raise ApiError(404, 40410000, f"asset not found for {key}")
        return json_response(asset_json(info))


def _date_param(request: web.Request, name: str, default: dt.date) -> dt.date:
    raw = request.query.get(name)
    if not raw:
        return default
    try:
        return dt.date.fromisoformat(raw[:10])
    except ValueError:
        raise ApiError(400, 40010000, f"invalid {name}: {raw}") from None
