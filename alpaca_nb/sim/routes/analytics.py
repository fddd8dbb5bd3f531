"""Trading API v2 routes about the account's own history: activities, portfolio history, watchlists."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from ..broker import Broker
from ..history import history
from ..http import ACCOUNT, json_response, read_json
from ..ledger import Account
from ..wire import ApiError, iso_one
from .account import asset_json

_NS_WATCH = uuid.UUID("c3d1a7f0-52e8-4b9e-9f61-7a2e4d0b8c15")


class AnalyticsRoutes:
    """Handlers bound to one broker: ``/v2/account/activities``, ``/v2/account/portfolio/history`` and
    ``/v2/watchlists`` (CRUD, also by name)."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.market = broker.market

    def add_to(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/v2/account/activities", self.activities)
        r.add_get("/v2/account/activities/{activity_type}", self.activities)
        r.add_get("/v2/account/portfolio/history", self.portfolio_history)
        r.add_get("/v2/watchlists", self.watchlists)
        r.add_post("/v2/watchlists", self.create_watchlist)
        r.add_get("/v2/watchlists:by_name", self.watchlist_by_name)
        r.add_put("/v2/watchlists:by_name", self.watchlist_by_name)
        r.add_post("/v2/watchlists:by_name", self.watchlist_by_name)
        r.add_delete("/v2/watchlists:by_name", self.watchlist_by_name)
        r.add_get("/v2/watchlists/{watchlist_id}", self.watchlist)
        r.add_put("/v2/watchlists/{watchlist_id}", self.watchlist)
        r.add_post("/v2/watchlists/{watchlist_id}", self.watchlist)
        r.add_delete("/v2/watchlists/{watchlist_id}", self.watchlist)
        r.add_delete("/v2/watchlists/{watchlist_id}/{symbol}", self.remove_symbol)

    async def activities(self, request: web.Request) -> web.Response:
        acct: Account = request[ACCOUNT]
        kind = request.match_info.get("activity_type")
        return json_response(acct.activities.query(request.query, kind))

    async def portfolio_history(self, request: web.Request) -> web.Response:
        return json_response(history(request[ACCOUNT], self.market, request.query, self.market.now()))

    # ----- watchlists --------------------------------------------------------------------------
    async def watchlists(self, request: web.Request) -> web.Response:
        acct: Account = request[ACCOUNT]
        return json_response([_summary(w) for w in acct.watchlists.values()])

    async def create_watchlist(self, request: web.Request) -> web.Response:
        acct: Account = request[ACCOUNT]
        body = await read_json(request)
        name = _name(body.get("name") if isinstance(body, dict) else None)
        if any(w["name"] == name for w in acct.watchlists.values()):
            raise ApiError(422, 40010001, "watchlist name must be unique")
        now = self.market.now()
        wid = str(uuid.uuid5(_NS_WATCH, f"{acct.id}:{len(acct.watchlists)}:{name}:{now}"))
        item = {"id": wid, "account_id": acct.id, "name": name, "created_at": iso_one(now),
                "updated_at": iso_one(now), "symbols": self._symbols(body.get("symbols") or [])}  # fmt: skip
        acct.watchlists[wid] = item
        return json_response(self._full(item))

    async def watchlist_by_name(self, request: web.Request) -> web.Response:
        acct: Account = request[ACCOUNT]
        name = request.query.get("name", "")
        found = next((w for w in acct.watchlists.values() if w["name"] == name), None)
        if found is None:
            raise ApiError(404, 40410000, "watchlist not found")
        return await self._change(request, acct, found)

    async def watchlist(self, request: web.Request) -> web.Response:
        acct: Account = request[ACCOUNT]
        found = acct.watchlists.get(request.match_info["watchlist_id"])
        if found is None:
            raise ApiError(404, 40410000, "watchlist not found")
        return await self._change(request, acct, found)

    async def _change(self, request: web.Request, acct: Account, item: dict[str, Any]) -> web.Response:
        if request.method == "GET":
            return json_response(self._full(item))
        if request.method == "DELETE":
            del acct.watchlists[item["id"]]
            return web.Response(status=204)
        body = await read_json(request)
        if not isinstance(body, dict):
            raise ApiError(400, 40010000, "request body format is invalid")
        if request.method == "PUT":
            if "name" in body:
                item["name"] = _name(body["name"])
            if "symbols" in body:
                item["symbols"] = self._symbols(body["symbols"] or [])
        else:  # POST: add one symbol
            symbol = body.get("symbol")
            if not isinstance(symbol, str) or not symbol:
                raise ApiError(422, 40010000, "symbol is required")
            item["symbols"] = [*item["symbols"], *self._symbols([symbol])]
        item["updated_at"] = iso_one(self.market.now())
        return json_response(self._full(item))

    async def remove_symbol(self, request: web.Request) -> web.Response:
        acct: Account = request[ACCOUNT]
        item = acct.watchlists.get(request.match_info["watchlist_id"])
        symbol = request.match_info["symbol"]
        if item is None or symbol not in item["symbols"]:
            raise ApiError(404, 40410000, "watchlist or symbol not found")
        item["symbols"] = [s for s in item["symbols"] if s != symbol]
        item["updated_at"] = iso_one(self.market.now())
        return json_response(self._full(item))  # 200 with the watchlist: alpaca-py parses it

    def _symbols(self, symbols: Any) -> list[str]:
        if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
            raise ApiError(422, 40010000, "symbols must be a list of strings")
        for symbol in symbols:
            self.broker.asset(symbol)  # 404 / 422 for unknown symbols, as Alpaca
        return list(dict.fromkeys(symbols))

    def _full(self, item: dict[str, Any]) -> dict[str, Any]:
        return {**_summary(item), "assets": [asset_json(self.broker.asset(s)) for s in item["symbols"]]}


def _summary(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item[k] for k in ("id", "account_id", "name", "created_at", "updated_at")}


def _name(name: Any) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= 64:
        raise ApiError(422, 40010000, "name must be 1 to 64 characters")
    return name
