"""Account configurations (``GET/PATCH /v2/account/configurations``, ALPACA_WIRE_MORE §C3).

The settings that cost little to honour are honoured by the broker: ``suspend_trade`` refuses new
orders, ``no_shorting`` refuses orders that would open a short, ``fractional_trading=false`` refuses
fractional quantities and notional orders, ``max_margin_multiplier="1"`` makes buying power cash.
``dtbp_check``/``pdt_check`` were removed from Alpaca's answers on 2026-07-06 (FINRA's intraday-margin
rule): they are accepted in a PATCH (alpaca-py sends them as nulls) but never returned.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .wire import ApiError

_BOOLS = (
    "fractional_trading",
    "no_shorting",
    "suspend_trade",
    "ptp_no_exception_entry",
    "disable_overnight_trading",
)
_CHOICES = {"max_margin_multiplier": ("1", "2", "4"), "trade_confirm_email": ("all", "none")}
_RETIRED = {"dtbp_check": ("both", "entry", "exit"), "pdt_check": ("both", "entry", "exit")}


@dataclass(slots=True)
class AccountConfig:
    """One account's configuration; ``to_json`` is Alpaca's AccountConfigurations object."""

    fractional_trading: bool = True
    max_margin_multiplier: str = "2"
    no_shorting: bool = False
    suspend_trade: bool = False
    trade_confirm_email: str = "all"
    ptp_no_exception_entry: bool = False
    max_options_trading_level: int = 3  # as the approved level of a new paper account
    disable_overnight_trading: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def update(self, body: Any) -> None:
        """Apply a PATCH body: ``null`` (or an absent key) leaves a field unchanged; all or nothing."""
        if not isinstance(body, dict):
            raise ApiError(400, 40010000, "request body format is invalid")
        changes = {name: value for name, value in body.items() if value is not None}
        for name, value in changes.items():
            _check(name, value)
        for name, value in changes.items():
            if name in _RETIRED or not hasattr(self, name):
                continue  # unknown keys are ignored, as Alpaca ignores them
            setattr(self, name, value)


def _check(name: str, value: Any) -> None:
    if name in _BOOLS and not isinstance(value, bool):
        raise ApiError(422, 40010001, f"{name} must be true or false")
    if name in _CHOICES and value not in _CHOICES[name]:
        raise ApiError(
            422, 40010001, f"{name} value is invalid (expected one of {', '.join(_CHOICES[name])})"
        )
    if name in _RETIRED and value not in _RETIRED[name]:
        raise ApiError(422, 40010001, f"{name} value is invalid")
    if name == "max_options_trading_level" and (
        isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3
    ):
        raise ApiError(422, 40010001, "max_options_trading_level must be 0, 1, 2 or 3")
