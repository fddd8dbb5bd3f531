"""Trading API routes for options: ``/v2/options/contracts`` (list, one) and exercise
(ALPACA_WIRE_MORE B1, B4; checklist D17, D25).

The list is ordered by symbol and paged by offset (``next_page_token`` is the base64 of the next
offset, as Alpaca's ``"MTAwMA=="`` is of 1000; ``null`` on the last page). Without an expiration
filter it reaches through the next weekend, as Alpaca's does; ``status`` defaults to ``active``.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
from aiohttp import web

from .. import calendar as cal
from ..broker import Broker
from ..http import ACCOUNT, json_response, raw_json_response
from ..market.chains import Chain
from ..market.occ import ContractInfo
from ..market.options import OptionsMarket
from ..orders import fmt
from ..wire import ApiError


def _date(q: Any, name: str) -> dt.date | None:
    raw = q.get(name)
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ApiError(422, 40010001, f"invalid {name}: {raw}") from None


def _number(q: Any, name: str) -> Decimal | None:
    raw = q.get(name)
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ApiError(422, 40010001, f"invalid {name}: {raw}") from None
    if not value.is_finite():
        raise ApiError(422, 40010001, f"invalid {name}: {raw}")
    return value


def _milli(bound: Decimal, up: bool) -> int:
    """A strike bound in thousandths, rounded inward (strikes are whole thousandths)."""
    return int((bound * 1000).to_integral_value(ROUND_CEILING if up else ROUND_FLOOR))


@dataclass(frozen=True, slots=True)
class ContractFilter:
    """The contract filters of a query (type, expiration date or range, strike range), over a chain's
    arrays at once."""

    kind: str | None = None
    exact: dt.date | None = None
    gte: dt.date | None = None
    lte: dt.date | None = None
    lo: Decimal | None = None
    hi: Decimal | None = None

    @classmethod
    def of(cls, q: Any, kind: str | None) -> ContractFilter:
        return cls(
            kind, _date(q, "expiration_date"), _date(q, "expiration_date_gte"),
            _date(q, "expiration_date_lte"), _number(q, "strike_price_gte"), _number(q, "strike_price_lte"),
        )  # fmt: skip

    def mask(self, chain: Chain) -> npt.NDArray[np.bool_]:
        keep = np.ones(len(chain.contracts), bool)
        if self.kind is not None:
            keep &= chain.call == (self.kind == "call")
        for bound, compare in (
            (self.exact, np.equal),
            (self.gte, np.greater_equal),
            (self.lte, np.less_equal),
        ):
            if bound is not None:
                keep &= compare(chain.day, bound.toordinal())
        if self.lo is not None:
            keep &= chain.strike_milli >= _milli(self.lo, up=True)
        if self.hi is not None:
            keep &= chain.strike_milli <= _milli(self.hi, up=False)
        return keep


def next_weekend(today: dt.date) -> dt.date:
    """The Sunday ending the coming weekend (on a weekend day, the next one)."""
    saturday = today + dt.timedelta(days=(5 - today.weekday()) % 7 or 7)
    return saturday + dt.timedelta(days=1)


class OptionContractRoutes:
    def __init__(self, broker: Broker, options: OptionsMarket) -> None:
        self.broker = broker
        self.options = options
        self._closes: dict[tuple[str, dt.date], dict[str, float]] = {}
        self._json: dict[tuple[str, dt.date, bool], list[bytes]] = {}  # today's contracts, encoded

    def add_to(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/v2/options/contracts", self.contracts)
        r.add_get("/v2/options/contracts/{symbol_or_id}", self.contract)
        r.add_post("/v2/positions/{symbol_or_contract_id}/exercise", self.exercise)

    def _close_prices(self, underlying: str, now: int) -> dict[str, float]:
        """Each contract's model mid at the previous session's close (``close_price``), once a day."""
        day = cal.et_day_of(now)
        found = self._closes.get((underlying, day))
        if found is None:
            chain = self.options.chain(underlying)
            close = self.options.stocks.previous_close(underlying, now)
            prev = day - dt.timedelta(days=1)
            while cal.session(prev) is None:
                prev -= dt.timedelta(days=1)
            sess = cal.session(prev)
            assert chain is not None and sess is not None
            found = {}
            if close is not None:
                q = self.options.quotes(
                    chain,
                    np.arange(len(chain.contracts)),
                    cal.et_minute_ns(prev, sess.close_minute),
                    spot=close,
                )
                assert q is not None
                mids = np.round((q.bid + q.ask) / 2, 2).tolist()
                found = {c.symbol: m for c, m in zip(chain.contracts, mids, strict=True)}
            self._closes[(underlying, day)] = found
        return found

    def contract_json(self, info: ContractInfo, now: int, *, deliverables: bool = False) -> dict[str, Any]:
        return self._contract_json(info, now, self.options.expired(info, now), deliverables)

    def _contract_json(
        self, info: ContractInfo, now: int, expired: bool, deliverables: bool
    ) -> dict[str, Any]:
        day = cal.et_day_of(now)
        close = self._close_prices(info.underlying, now).get(info.symbol)
        out: dict[str, Any] = {
            "id": info.asset_id, "symbol": info.symbol, "name": info.name,
            "status": "inactive" if expired else "active", "tradable": not expired,
            "expiration_date": info.expiration.isoformat(), "root_symbol": info.root,
            "underlying_symbol": info.underlying, "underlying_asset_id": info.underlying_asset_id,
            "type": info.kind, "style": "american", "strike_price": fmt(info.strike),
            "multiplier": "100", "size": "100",
            "open_interest": str(info.key % 5000),
            "open_interest_date": (day - dt.timedelta(days=1)).isoformat(),
            "close_price": None if close is None else fmt(Decimal(str(close))),
            "close_price_date": None if close is None else (day - dt.timedelta(days=1)).isoformat(),
        }  # fmt: skip
        if deliverables:
            out["deliverables"] = [{
                "type": "equity", "symbol": info.underlying, "asset_id": info.underlying_asset_id,
                "amount": "100", "allocation_percentage": "100", "settlement_type": "T+1",
                "settlement_method": "CCC", "delayed_settlement": False,
            }]  # fmt: skip
        return out

    async def contracts(self, request: web.Request) -> web.Response:
        q, now = request.query, self.options.now()
        today = cal.et_day_of(now)
        underlyings = [s.strip() for s in q.get("underlying_symbols", "").split(",") if s.strip()]
        status = q.get("status", "active")
        if status not in ("active", "inactive"):
            raise ApiError(422, 40010001, f"invalid status: {status}")
        kind, style = q.get("type"), q.get("style")
        if kind not in (None, "call", "put") or style not in (None, "american", "european"):
            raise ApiError(
                422,
                40010001,
                f"invalid type: {kind}" if kind not in (None, "call", "put") else f"invalid style: {style}",
            )
        filters = ContractFilter.of(q, kind)
        if filters.exact is None and filters.lte is None:
            filters = replace(filters, lte=next_weekend(today))
        root = q.get("root_symbol")
        limit = _limit(q.get("limit"))
        offset = _offset(q.get("page_token"))
        deliverables = q.get("show_deliverables", "false").lower() == "true"
        found: list[bytes] = []
        for underlying in underlyings or self.options.underlyings:
            chain = self.options.chain(underlying.upper())
            if chain is None or (root and root != chain.underlying) or style == "european":
                continue
            keep = filters.mask(chain) & (self.options.expired_mask(chain, now) == (status == "inactive"))
            found += self._encoded(chain, np.flatnonzero(keep), now, deliverables)
        page = found[offset : offset + limit]
        more = offset + limit < len(found)
        token = orjson.dumps(base64.b64encode(str(offset + limit).encode()).decode() if more else None)
        return raw_json_response(
            b'{"option_contracts":[' + b",".join(page) + b'],"next_page_token":' + token + b"}"
        )

    def _encoded(
        self, chain: Chain, index: npt.NDArray[np.int64], now: int, deliverables: bool
    ) -> list[bytes]:
        """The JSON of ``chain.contracts[index]``: active ones from a cache of the day's encodings (their
        close price changes once a day), expired ones encoded now."""
        day = cal.et_day_of(now)
        key = (chain.underlying, day, deliverables)
        cached = self._json.get(key)
        if cached is None:
            if any(k[1] != day for k in self._json):
                self._json.clear()  # yesterday's close prices: gone
            cached = self._json[key] = [
                orjson.dumps(self._contract_json(c, now, False, deliverables)) for c in chain.contracts
            ]
        expired = self.options.expired_mask(chain, now)
        return [
            orjson.dumps(self._contract_json(chain.contracts[i], now, True, deliverables))
            if expired[i]
            else cached[i]
            for i in index.tolist()
        ]

    async def contract(self, request: web.Request) -> web.Response:
        key = request.match_info["symbol_or_id"]
        info = self.broker.market.contract(key)
        if info is None:
            raise ApiError(404, 40410000, f"option contract {key} not found")
        return json_response(self.contract_json(info, self.options.now()))

    async def exercise(self, request: web.Request) -> web.Response:
        self.broker.exercise(
            request[ACCOUNT], request.match_info["symbol_or_contract_id"], self.options.now()
        )
        return web.Response(status=200)  # no body: alpaca-py returns None and parses nothing


def _limit(raw: str | None) -> int:
    if raw is None:
        return 100
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(422, 40010001, f"invalid limit: {raw}") from None
    if not 1 <= value <= 10_000:
        raise ApiError(422, 40010001, "limit must be between 1 and 10000")
    return value


def _offset(raw: str | None) -> int:
    if not raw:
        return 0
    try:
        return int(base64.b64decode(raw, validate=True).decode())
    except ValueError:
        raise ApiError(422, 40010001, "invalid page_token") from None
