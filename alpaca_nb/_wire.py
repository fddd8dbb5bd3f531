"""Alpaca's wire vocabulary on the client side, in one place: asset classes and their symbol rules,
the short keys of quotes, trades and bars (``bp ap bs as``, ``t o h l c v n vw``…) expanded into names,
and the named tuples those records travel in from the socket to the chart.

Adding an asset class is an entry in ``ASSET_CLASSES``, not a branch elsewhere.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from .errors import ValidationError


# ----- asset classes ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AssetClass:
    """What differs between asset classes on the wire and in the order rules.

    The data and stream layers look everything up here: a new asset class is an entry below plus its
    own files (data, a feed, the simulator's market and routes), not ``if crypto`` branches."""

    key: str  # our short name: "stock", "crypto"
    name: str  # Alpaca's ``class`` of an asset
    label: str  # what a one-line error calls a symbol of this class
    symbol: re.Pattern[str]
    data_version: str  # market-data REST version: /v2/stocks/…, /v1beta3/crypto/us/…
    data_prefix: str  # market-data REST path prefix, after the version
    latest_words: tuple[str, str]  # ("quotes", "latest") → /stocks/quotes/latest; crypto: latest/quotes
    snapshots_key: str | None  # crypto wraps snapshots in {"snapshots": …}; stocks do not
    volume_dtype: str  # bars' volume column: int64 shares, float64 coins
    feeds: tuple[str, ...]  # the `feed=` values its data takes (empty: none)
    order_types: tuple[str, ...]
    time_in_force: tuple[str, ...]
    notional: tuple[tuple[str, ...], tuple[str, ...]]  # (order types, times in force) notional orders take
    shortable: bool  # may an order sell what is not held (if the asset allows)
    keyless_data: bool  # market data needs no keys (crypto on Alpaca)
    extended_hours: bool  # has sessions outside regular hours (crypto trades around the clock)
    unit: str  # what a quantity counts in a confirmation: "shares"; "" for coins ("0.5 BTC/USD")
    price_places: int | None = None  # fixed decimals of prices; None: equity cents/sub-cents rule
    max_notional: float | None = None  # Alpaca's own cap on one order's value ($200k for crypto)
    quote_history: bool = True  # historical quotes are served (options: only the latest quote)
    multiplier: int = 1  # dollars a unit of price moves per unit held (an equity option: 100 shares)
    order_classes: tuple[str, ...] = ("simple", "bracket", "oco", "oto")  # advanced orders it takes

    def price_step_ok(self, price: Decimal) -> bool:
        """Prices on Alpaca's increments: equities cents from $1 and hundredths of a cent below; crypto
        prices as fine as ``price_places`` (the asset's own ``price_increment`` is checked with the asset)."""
        places = -price.as_tuple().exponent  # type: ignore[operator]
        if self.price_places is not None:
            return places <= self.price_places
        return places <= (2 if price >= 1 else 4)

    def data_path(self, what: str) -> str:
        """``"bars"`` → ``/stocks/bars``; ``"latest/quotes"`` → ``/stocks/quotes/latest`` (stocks) or
        ``/crypto/us/latest/quotes`` (crypto): Alpaca's word order differs between classes."""
        if what.startswith("latest/"):
            channel = what.split("/", 1)[1]
            what = f"latest/{channel}" if self.latest_words[0] == "latest" else f"{channel}/latest"
        return f"{self.data_prefix}/{what}"

    def position_symbol(self, symbol: str) -> str:
        """Positions are keyed without the slash (``BTCUSD``) though orders carry ``BTC/USD``."""
        return symbol.replace("/", "")


STOCK = AssetClass(
    key="stock",
    name="us_equity",
    label="stock symbol",
    symbol=re.compile(r"^[A-Z][A-Z0-9.]{0,9}$"),
    data_version="v2",
    data_prefix="/stocks",
    latest_words=("quotes", "latest"),
    snapshots_key=None,
    volume_dtype="int64",
    feeds=("iex", "sip", "otc", "boats", "delayed_sip"),
    order_types=("market", "limit", "stop", "stop_limit", "trailing_stop"),
    time_in_force=("day", "gtc", "opg", "cls", "ioc", "fok"),
    notional=(("market",), ("day",)),
    shortable=True,
    keyless_data=False,
    extended_hours=True,
    unit="shares",
)
CRYPTO = AssetClass(
    key="crypto",
    name="crypto",
    label="crypto pair",
    symbol=re.compile(r"^[A-Z0-9]{2,10}/[A-Z]{3,5}$"),
    data_version="v1beta3",
    data_prefix="/crypto/us",
    latest_words=("latest", "quotes"),
    snapshots_key="snapshots",
    volume_dtype="float64",
    feeds=(),
    order_types=("market", "limit", "stop_limit"),
    time_in_force=("gtc", "ioc"),
    notional=(("market", "limit"), ("gtc", "ioc")),
    shortable=False,
    keyless_data=True,
    extended_hours=False,
    unit="",
    price_places=9,
    max_notional=200_000.0,
    order_classes=("simple",),
)
OPTION = AssetClass(
    key="option",
    name="us_option",
    label="option contract",
    # OCC: root (1-6 letters, an adjusted one ends in a digit), YYMMDD, C or P, strike × 1000 in 8 digits
    symbol=re.compile(r"^[A-Z]{1,5}[A-Z0-9]?\d{6}[CP]\d{8}$"),
    data_version="v1beta1",
    data_prefix="/options",
    latest_words=("quotes", "latest"),
    snapshots_key="snapshots",
    volume_dtype="int64",
    feeds=("indicative", "opra"),
    order_types=("market", "limit"),
    time_in_force=("day",),
    notional=((), ()),
    shortable=True,  # selling to open needs the account's options level (the broker's rule, and ours)
    keyless_data=False,
    extended_hours=False,
    unit="contracts",
    price_places=2,
    quote_history=False,
    multiplier=100,
    order_classes=("simple",),  # multi-leg orders go through legs=, not order_class
)
ASSET_CLASSES: dict[str, AssetClass] = {"stock": STOCK, "crypto": CRYPTO, "option": OPTION}


class OccSymbol(NamedTuple):
    """An OCC option symbol's parts: ``AAPL261218C00200000`` → AAPL, 2026-12-18, call, 200.0."""

    root: str
    expiration: str  # YYYY-MM-DD
    type: str  # "call" | "put"
    strike: float


def parse_occ(symbol: str) -> OccSymbol:
    """The parts of an OCC symbol (ValidationError if it is not one)."""
    if not OPTION.symbol.match(symbol):
        raise ValidationError(
            f"not an OCC option symbol (ROOT + YYMMDD + C/P + strike×1000 in 8 digits): {symbol!r}"
        )
    body = symbol[-15:]
    root = symbol[:-15]
    expiration = f"20{body[:2]}-{body[2:4]}-{body[4:6]}"
    return OccSymbol(root, expiration, "call" if body[6] == "C" else "put", int(body[7:]) / 1000)


def asset_class(symbol: str) -> AssetClass:
    """The asset class whose symbol rule ``symbol`` (already upper-case) matches."""
    for cls in ASSET_CLASSES.values():
        if cls.symbol.match(symbol):
            return cls
    raise ValidationError(f"not a valid symbol: {symbol!r}")


def normalize_symbol(raw: Any) -> str:
    """``" aapl "`` → ``"AAPL"``, ``"btc/usd"`` → ``"BTC/USD"``; anything that is no asset class's
    symbol → ValidationError."""
    if not isinstance(raw, str) or not raw.isascii():  # "ſpy".upper() is "SPY": not a symbol anyone typed
        raise ValidationError(f"not a valid symbol: {raw!r}")
    symbol = raw.strip().upper()
    for cls in ASSET_CLASSES.values():
        if cls.symbol.match(symbol):
            return symbol
    hint = (
        " (crypto pairs are written with a slash, e.g. 'BTC/USD')" if "/" in symbol or "-" in symbol else ""
    )
    raise ValidationError(f"not a valid stock symbol or crypto pair: {raw!r}{hint}")


def normalize_symbols(symbols: str | Sequence[str]) -> tuple[list[str], bool]:
    """(symbols, single): ``"AAPL"`` → (["AAPL"], True); ``["AAPL","MSFT"]`` → (both, False)."""
    single = isinstance(symbols, str)
    items = [symbols] if isinstance(symbols, str) else list(symbols)
    if not items:
        raise ValidationError("give at least one symbol")
    out: list[str] = []
    for raw in items:
        sym = normalize_symbol(raw)
        if sym not in out:
            out.append(sym)
    return out, single


QUOTE_CURRENCIES = ("USDT", "USDC", "USD", "BTC")


def quoted_symbol(position: dict[str, Any]) -> str:
    """The symbol a position's quotes come under: Alpaca keys crypto positions without the slash
    (``BTCUSD``) but quotes them as pairs (``BTC/USD``)."""
    symbol = str(position.get("symbol") or "")
    if position.get("asset_class") == "crypto" and "/" not in symbol:
        for quote in QUOTE_CURRENCIES:
            if symbol.endswith(quote) and len(symbol) > len(quote):
                return f"{symbol[: -len(quote)]}/{quote}"
    return symbol


def one_class(symbols: Sequence[str]) -> AssetClass:
    """The one asset class of ``symbols`` (normalised); a list that mixes classes is refused: each class
    has its own routes, limits and frame schema."""
    classes = {asset_class(s).key: asset_class(s) for s in symbols}
    if len(classes) > 1:
        by = {k: [s for s in symbols if asset_class(s).key == k] for k in classes}
        parts = "; ".join(f"{c.label}s {', '.join(by[k])}" for k, c in classes.items())
        raise ValidationError(f"one asset class per call: {parts} (ask for each separately)")
    return next(iter(classes.values()))


def to_decimal(name: str, value: Any) -> Decimal:
    """A price or quantity as Alpaca will read it (floats through their shortest repr)."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError(f"{name} must be a number, not {value!r}") from None
    if not number.is_finite():
        raise ValidationError(f"{name} must be a finite number, not {value!r}")
    return number


# ----- records --------------------------------------------------------------------------------------
class Quote(NamedTuple):
    t_ns: int
    bid: float
    bid_size: float
    ask: float
    ask_size: float


class Trade(NamedTuple):
    t_ns: int
    price: float
    size: float


class Bar(NamedTuple):
    t_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    trade_count: int
    vwap: float


class BookUpdate(NamedTuple):
    """One ``orderbooks`` message: changed levels (size 0 removes one); ``reset``: the whole book."""

    t_ns: int
    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]
    reset: bool


# Alpaca's short keys → our names. REST and stream messages use the same keys.
QUOTE_KEYS = {"t": "timestamp", "bp": "bid_price", "bs": "bid_size", "bx": "bid_exchange", "ap": "ask_price",
              "as": "ask_size", "ax": "ask_exchange", "c": "conditions", "z": "tape"}  # fmt: skip
TRADE_KEYS = {"t": "timestamp", "p": "price", "s": "size", "x": "exchange", "i": "id", "c": "conditions",
              "z": "tape"}  # fmt: skip
BAR_KEYS = {"t": "timestamp", "o": "open", "h": "high", "l": "low", "c": "close", "v": "volume",
            "n": "trade_count", "vw": "vwap"}  # fmt: skip
SNAPSHOT_KEYS = {"latestTrade": "trade", "latestQuote": "quote", "minuteBar": "minute_bar",
                 "dailyBar": "daily_bar", "prevDailyBar": "prev_daily_bar"}  # fmt: skip


# On the stream's hot path (hundreds of thousands a second): tuple.__new__ skips the named tuples'
# argument parsing, about half the cost of building one.
_new = tuple.__new__


def quote_of(msg: dict[str, Any], t_ns: int) -> Quote:
    get = msg.get
    return _new(Quote, (t_ns, get("bp"), get("bs"), get("ap"), get("as")))


def trade_of(msg: dict[str, Any], t_ns: int) -> Trade:
    return _new(Trade, (t_ns, msg.get("p"), msg.get("s")))


def bar_of(msg: dict[str, Any], t_ns: int) -> Bar:
    get = msg.get
    return _new(Bar, (t_ns, get("o"), get("h"), get("l"), get("c"), get("v"), get("n"), get("vw")))


def book_update_of(msg: dict[str, Any], t_ns: int) -> BookUpdate:
    """``{"T":"o","b":[{"p","s"}],"a":[…],"r":true?}`` → ``BookUpdate`` (a missing side is empty)."""
    bids = [(float(x["p"]), float(x["s"])) for x in msg.get("b") or ()]
    asks = [(float(x["p"]), float(x["s"])) for x in msg.get("a") or ()]
    return _new(BookUpdate, (t_ns, bids, asks, bool(msg.get("r"))))


# The stream's message types (``T``) → channel, and the record each becomes.
RECORDS = {
    "q": ("quotes", quote_of),
    "t": ("trades", trade_of),
    "b": ("bars", bar_of),
    "o": ("orderbooks", book_update_of),
}


# The hot path's shortcut (benchmarks/stream.py, crypto.py, options.py): a frame of quotes and trades
# only — nearly every frame a busy feed sends — is decoded by msgspec into small structs that skip the
# fields no record keeps, instead of into a dict per message. Anything else (bars, books, control
# messages, an unexpected shape) is decoded the general way, so the shortcut never changes what a
# record holds.
_FAST: Any = None


def fast_frame_decoder() -> Any:
    """``decode(frame) -> [WireQuote | WireTrade, ...]`` (msgspec; made on first use, import stays
    light); raises ``msgspec.ValidationError``/``DecodeError`` for any frame that is not all quotes
    and trades. ``.t`` is the timestamp's raw msgpack bytes: ``wire_nanos`` reads it exactly."""
    global _FAST
    if _FAST is None:
        import msgspec

        raw, f = msgspec.Raw, msgspec.field
        num = int | float  # as sent: an integer size stays an int, as in the general path
        quote = msgspec.defstruct("WireQuote", [("S", str), ("t", raw), ("bp", num), ("bs", num),
                                                ("ap", num), ("as_", num, f(name="as"))],
                                  tag_field="T", tag="q")  # fmt: skip
        trade = msgspec.defstruct("WireTrade", [("S", str), ("t", raw), ("p", num), ("s", num)],
                                  tag_field="T", tag="t")  # fmt: skip
        _FAST = (msgspec.msgpack.Decoder(list[quote | trade]).decode, quote)  # type: ignore[valid-type]
    return _FAST


# An option chain's pages (data/options.py), decoded by msgspec into small structs holding only what a
# chain row keeps: a page's other fields (timestamps, sizes, exchanges, names, ids) are skipped, never
# built — on a fresh heap, 1-2 ms a page instead of 5-10 (benchmarks/options.py). Types are checked:
# a number where a price goes, or None; anything else is refused whole.
_CHAIN: Any = None


def chain_page_decoders() -> tuple[Any, Any]:
    """``(snapshots, contracts)``: decoders of ``/v1beta1/options/snapshots/{underlying}`` pages
    (``.snapshots``: symbol → ``.latestQuote.bp/.ap``, ``.latestTrade.p``, ``.greeks.delta…rho``,
    ``.impliedVolatility``, each ``None`` where not sent) and ``/v2/options/contracts`` pages
    (``.option_contracts``: ``.symbol``, ``.open_interest``); raise ``msgspec.ValidationError`` /
    ``DecodeError``."""
    global _CHAIN
    if _CHAIN is None:
        import msgspec

        num, ds = float | None, msgspec.defstruct
        quote = ds("ChainQuote", [("bp", num, None), ("ap", num, None)], gc=False)
        trade = ds("ChainTrade", [("p", num, None)], gc=False)
        greeks = ds(
            "ChainGreeks", [(g, num, None) for g in ("delta", "gamma", "theta", "vega", "rho")], gc=False
        )
        snap = ds("ChainSnapshot", [("latestQuote", quote | None, None), ("latestTrade", trade | None, None),
                                    ("greeks", greeks | None, None), ("impliedVolatility", num, None)],
                  gc=False)  # fmt: skip
        contract = ds(
            "ChainContract", [("symbol", str), ("open_interest", str | float | None, None)], gc=False
        )
        snaps = ds("SnapshotPage", [("snapshots", dict[str, snap] | None, None)])  # type: ignore[valid-type]
        contracts = ds("ContractPage", [("option_contracts", list[contract] | None, None)])  # type: ignore[valid-type]
        _CHAIN = (msgspec.json.Decoder(snaps).decode, msgspec.json.Decoder(contracts).decode)
    return _CHAIN  # type: ignore[no-any-return]


_TIMESTAMP64 = struct.Struct(">BbQ").unpack_from  # fixext 8 (0xd7), type -1, 30-bit ns + 34-bit s


def wire_nanos(raw: Any) -> int:
    """Nanoseconds since the epoch from a msgpack timestamp's raw bytes (extension -1 in its three
    sizes: 32-bit seconds, 64-bit 30-bit ns + 34-bit s, 96-bit); ``ValueError`` for anything else."""
    if len(raw) == 10:
        head, code, v = _TIMESTAMP64(raw)
        if head == 0xD7 and code == -1 and v >> 34 < 1_000_000_000:  # nanoseconds as msgpack allows them
            return int((v & 0x3FFFFFFFF) * 1_000_000_000 + (v >> 34))
    b = bytes(raw)
    if b[:2] == b"\xd6\xff" and len(b) == 6:
        return int.from_bytes(b[2:], "big") * 1_000_000_000
    if b[:3] == b"\xc7\x0c\xff" and len(b) == 15 and int.from_bytes(b[3:7], "big") < 1_000_000_000:
        return int.from_bytes(b[7:], "big", signed=True) * 1_000_000_000 + int.from_bytes(b[3:7], "big")
    raise ValueError("not a msgpack timestamp")


def expand(row: dict[str, Any], keys: dict[str, str]) -> dict[str, Any]:
    """One wire object with its short keys replaced by names (unknown keys dropped)."""
    return {name: row.get(key) for key, name in keys.items()}


# ----- times ----------------------------------------------------------------------------------------
NEW_YORK = "America/New_York"


def to_utc(value: Any, name: str) -> Any:
    """A UTC ``pd.Timestamp`` for ``value`` (None stays None).

    Timezone-aware values are converted; naive datetimes and date-only values are New York time, the
    exchange's clock. Numbers are refused: ``2024`` is not a date (pandas would read nanoseconds)."""
    import datetime as dt
    import numbers

    import pandas as pd

    if value is None:
        return None
    if isinstance(value, numbers.Number):
        raise ValidationError(f"{name}: {value!r} is a number, not a date or time (try '2024-01-02')")
    try:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            stamp = pd.Timestamp(value.year, value.month, value.day)
        else:
            stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as err:
        raise ValidationError(f"{name}: cannot read {value!r} as a date or time ({err})") from None
    if pd.isna(stamp):
        raise ValidationError(f"{name}: cannot read {value!r} as a date or time")
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(NEW_YORK, ambiguous=False, nonexistent="shift_forward")
    return stamp.tz_convert("UTC")
