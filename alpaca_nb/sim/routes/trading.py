"""Trading API v2 routes for orders and positions (the account's own routes: ``routes.account``)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..broker import Account, Broker
from ..http import ACCOUNT, CLIENT_ORDER_ID, json_response, query_bool, read_json
from ..orders import decimal_field
from ..params import parse_time
from ..wire import ApiError


def _acct(request: web.Request) -> Account:
    return request[ACCOUNT]


class TradingRoutes:
    """Order and position handlers bound to one broker; a change schedules a matching pass."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.market = broker.market

    def add_to(self, app: web.Application) -> None:
        r = app.router
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
        # Positions keep the old symbology: BTCUSD works, BTC/USD is not found (as on Alpaca).
        r.add_get("/v2/positions/{base}/{quote}", self.no_position)
        r.add_delete("/v2/positions/{base}/{quote}", self.no_position)

    def _match_soon(self) -> None:
        # Fills happen just after the answer is sent, as at Alpaca: the POST returns "accepted".
        loop = asyncio.get_running_loop()
        loop.call_soon(lambda: self.broker.process(self.market.now()))

    # ----- orders -----------------------------------------------------------------------------
    async def submit(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        if isinstance(body, dict) and isinstance(body.get("client_order_id"), str):
            request[CLIENT_ORDER_ID] = body["client_order_id"]
        order = self.broker.submit(_acct(request), body, self.market.now())
        request[CLIENT_ORDER_ID] = order.client_order_id
        self._match_soon()
        return json_response(order.to_json(legs=True))

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
        nested = query_bool(request, "nested")
        orders = self.broker.list_orders(
            _acct(request),
            status=status,
            limit=limit,
            after=after,
            until=until,
            direction=direction,
            symbols=q["symbols"].split(",") if q.get("symbols") else None,
            side=q.get("side") or None,
            nested=nested,
        )
        return json_response([o.to_json(legs=nested) for o in orders])

    async def get_order(self, request: web.Request) -> web.Response:
        order = self.broker.get(_acct(request), request.match_info["order_id"])
        return json_response(order.to_json(legs=query_bool(request, "nested")))

    async def by_client_order_id(self, request: web.Request) -> web.Response:
        coid = request.query.get("client_order_id")
        if not coid:
            raise ApiError(422, 40010001, "client_order_id is required")
        order = self.broker.get_by_client_id(_acct(request), coid)
        return json_response(order.to_json(legs=query_bool(request, "nested")))

    async def replace(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        order = self.broker.replace(_acct(request), request.match_info["order_id"], body, self.market.now())
        self._match_soon()
        return json_response(order.to_json(legs=True))

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
        """A position's key from the path: itself, or the position symbol of an asset id."""
        info = self.market.asset(key)
        return info.position_symbol if info is not None and key == info.asset_id else key

    async def no_position(self, request: web.Request) -> web.Response:
        raise ApiError(404, 40410000, "position does not exist")

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
