"""Trading API v2 routes: account, orders, positions, assets, clock and calendar."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from aiohttp import web

from . import calendar as cal
from .broker import Account, Broker
from .http import ACCOUNT, CLIENT_ORDER_ID, json_response, query_bool, read_json
from .orders import decimal_field
from .params import parse_time
from .universe import SymbolInfo
from .wire import ApiError, iso_et


def _acct(request: web.Request) -> Account:
    return request[ACCOUNT]


def asset_json(info: SymbolInfo) -> dict[str, Any]:
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


class TradingRoutes:
    """Handlers bound to one broker; ``after_change`` schedules a matching pass after a change."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.market = broker.market

    def add_to(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/v2/account", self.account)
        r.add_get("/v2/clock", self.clock)
        r.add_get("/v2/calendar", self.calendar)
        r.add_get("/v2/assets", self.assets)
        r.add_get("/v2/assets/{symbol}", self.asset)
        r.add_post("/v2/orders", self.submit)
        r.add_get("/v2/orders", self.list_orders)
        r.add_delete("/v2/orders", self.cancel_all)
        r.add_get("/v2/orders:by_client_order_id", self.by_client_order_id)
        r.add_get("/v2/orders/{order_id}", self.get_order)
        r.add_patch("/v2/orders/{order_id}", self.replace)
        r.add_delete("/v2/orders/{order_id}", self.cancel)
        r.add_get("/v2/positions", self.positions)
        r.add_delete("/v2/positions", self.close_all)
        r.add_get("/v2/positions/{symbol}", self.position)
        r.add_delete("/v2/positions/{symbol}", self.close_position)

    def _match_soon(self) -> None:
        # Fills happen just after the answer is sent, as at Alpaca: the POST returns "accepted".
        loop = asyncio.get_running_loop()
        loop.call_soon(lambda: self.broker.process(self.market.now()))

    # ----- account, clock, calendar, assets ---------------------------------------------------
    async def account(self, request: web.Request) -> web.Response:
        return json_response(self.broker.account_json(_acct(request), self.market.now()))

    async def clock(self, request: web.Request) -> web.Response:
        now = self.market.now()
        day = cal.et_day_of(now)
        is_open = self.market.is_open("SPY", now) if "SPY" in self.market.universe else False
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
        infos = list(self.market.universe.values())
        if q.get("status", "active") not in ("active", ""):
            infos = []
        if q.get("asset_class", "us_equity") != "us_equity":
            infos = []
        if "exchange" in q:
            infos = [i for i in infos if i.exchange == q["exchange"]]
        if q.get("attributes"):
            wanted = set(q["attributes"].split(","))
            infos = [i for i in infos if wanted & set(asset_json(i)["attributes"])]
        return json_response([asset_json(i) for i in infos])

    async def asset(self, request: web.Request) -> web.Response:
        key = request.match_info["symbol"]
        for info in self.market.universe.values():
            if key in (info.symbol, info.asset_id):
                return json_response(asset_json(info))
        raise ApiError(404, 40410000, f"asset not found for {key}")

    # ----- orders -----------------------------------------------------------------------------
    async def submit(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        if isinstance(body, dict) and isinstance(body.get("client_order_id"), str):
            request[CLIENT_ORDER_ID] = body["client_order_id"]
        order = self.broker.submit(_acct(request), body, self.market.now())
        request[CLIENT_ORDER_ID] = order.client_order_id
        self._match_soon()
        return json_response(order.to_json())

    async def list_orders(self, request: web.Request) -> web.Response:
        q = request.query
        status = q.get("status", "open")
        if status not in ("open", "closed", "all"):
            raise ApiError(422, 40010001, f"invalid status: {status}")
        direction = q.get("direction", "desc")
        if direction not in ("asc", "desc"):
            raise ApiError(422, 40010001, f"invalid direction: {direction}")
        limit = _int_param(request, "limit", 50, 1, 500)
        after = parse_time(q["after"], "after") if "after" in q else None
        until = parse_time(q["until"], "until") if "until" in q else None
        orders = self.broker.list_orders(
            _acct(request),
            status=status,
            limit=limit,
            after=after,
            until=until,
            direction=direction,
            symbols=q["symbols"].split(",") if q.get("symbols") else None,
            side=q.get("side") or None,
        )
        return json_response([o.to_json() for o in orders])

    async def get_order(self, request: web.Request) -> web.Response:
        return json_response(self.broker.get(_acct(request), request.match_info["order_id"]).to_json())

    async def by_client_order_id(self, request: web.Request) -> web.Response:
        coid = request.query.get("client_order_id")
        if not coid:
            raise ApiError(422, 40010001, "client_order_id is required")
        return json_response(self.broker.get_by_client_id(_acct(request), coid).to_json())

    async def replace(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        order = self.broker.replace(_acct(request), request.match_info["order_id"], body, self.market.now())
        self._match_soon()
        return json_response(order.to_json())

    async def cancel(self, request: web.Request) -> web.Response:
        self.broker.cancel(_acct(request), request.match_info["order_id"], self.market.now())
        return web.Response(status=204)

    async def cancel_all(self, request: web.Request) -> web.Response:
        return json_response(self.broker.cancel_all(_acct(request), self.market.now()), status=207)

    # ----- positions --------------------------------------------------------------------------
    async def positions(self, request: web.Request) -> web.Response:
        acct, now = _acct(request), self.market.now()
        return json_response([self.broker.position_json(acct, p, now) for p in acct.positions.values()])

    def _position_symbol(self, acct: Account, key: str) -> str:
        for info in self.market.universe.values():
            if key == info.asset_id:
                return info.symbol
        return key

    async def position(self, request: web.Request) -> web.Response:
        acct = _acct(request)
        pos = acct.positions.get(self._position_symbol(acct, request.match_info["symbol"]))
        if pos is None:
            raise ApiError(404, 40410000, "position does not exist")
        return json_response(self.broker.position_json(acct, pos, self.market.now()))

    async def close_position(self, request: web.Request) -> web.Response:
        acct = _acct(request)
        q = dict(request.query)
        order = self.broker.close_position(
            acct,
            self._position_symbol(acct, request.match_info["symbol"]),
            self.market.now(),
            qty=decimal_field(q, "qty"),
            percentage=decimal_field(q, "percentage"),
        )
        self._match_soon()
        return json_response(order.to_json())

    async def close_all(self, request: web.Request) -> web.Response:
        results = self.broker.close_all(
            _acct(request), self.market.now(), cancel_orders=query_bool(request, "cancel_orders")
        )
        self._match_soon()
        return json_response(results, status=207)


def _date_param(request: web.Request, name: str, default: dt.date) -> dt.date:
    raw = request.query.get(name)
    if not raw:
        return default
    try:
        return dt.date.fromisoformat(raw[:10])
    except ValueError:
        raise ApiError(400, 40010000, f"invalid {name}: {raw}") from None


def _int_param(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(422, 40010001, f"invalid {name}: {raw}") from None
    if not lo <= value <= hi:
        raise ApiError(422, 40010001, f"{name} must be between {lo} and {hi}")
    return value
