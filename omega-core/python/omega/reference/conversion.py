"""Quote → account currency conversion of the pure-Python reference (docs/engine.md "Account
currency"; Rust ``omega_core::engine::conversion``).

An amount in the quote currency converts at the close of the latest conversion bar that has closed
by the instant it arises: credits at the lower side, debits at the higher side of the pair.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from omega.errors import InsufficientDataError
from omega.instruments import Instrument, normalize_symbol
from omega.reference.market import Market

__all__ = ["Conversion", "Rate", "candidate_pairs"]


@dataclass(frozen=True)
class Rate:
    """Quote → account rates at one instant: ``lo`` for credits, ``hi`` for debits."""

    lo: float
    hi: float

    def convert(self, amount: float) -> float:
        """``amount`` (quote currency) in account currency."""
        return amount * (self.lo if amount >= 0.0 else self.hi)


def candidate_pairs(quote: str, account: str) -> tuple[str, str]:
    """``QUOTEACCOUNT`` (direct) and ``ACCOUNTQUOTE`` (inverse)."""
    return f"{quote}{account}", f"{account}{quote}"


def _count_closed(conv_ts: Sequence[int], limits: Sequence[int]) -> list[int]:
    """Per limit: how many conversion bars open at or before it (both move forward)."""
    out: list[int] = []
    k, m = 0, len(conv_ts)
    for limit in limits:
        while k < m and conv_ts[k] <= limit:
            k += 1
        out.append(k)
    return out


class Conversion:
    """The conversion of one run, resolved before the first bar."""

    def __init__(self, constant: Rate | None, series: tuple[str, bool, Market, list[int], list[int]] | None) -> None:
        self._constant = constant
        self._series = series

    @classmethod
    def resolve(
        cls, engine: Mapping[str, Any], instrument: Instrument, market: Market, rates: Mapping[str, Market]
    ) -> Conversion:
        """The explicit ``engine.quote_to_account_rate``; 1 when the quote is the account currency;
        the traded market itself when its base is the account currency; else conversion bars of
        ``QUOTEACCOUNT`` or ``ACCOUNTQUOTE`` from ``rates`` (E4004 naming the pair otherwise)."""
        fixed = engine["quote_to_account_rate"]
        if fixed is not None:
            return cls(Rate(fixed, fixed), None)
        account = engine["account_currency"]
        if instrument.quote == account:
            return cls(Rate(1.0, 1.0), None)
        if instrument.base == account:
            return cls._series_of(instrument.symbol, False, market, market)
        direct, inverse = candidate_pairs(instrument.quote, account)
        by_name = {normalize_symbol(name): m for name, m in rates.items()}
        for pair, is_direct in ((direct, True), (inverse, False)):
            if pair in by_name:
                return cls._checked(pair, is_direct, market, by_name[pair])
        raise InsufficientDataError(
            f"{instrument.symbol} is quoted in {instrument.quote} but the account is in "
            f"{account}: pass conversion candles for {direct} or {inverse} "
            f'(omega.run_backtest(..., conversion={{"{direct}": candles}})), or set engine.quote_to_account_rate',
            {"pairs": [direct, inverse]},
        )

    @classmethod
    def _checked(cls, pair: str, direct: bool, market: Market, rates: Market) -> Conversion:
        if rates.timeframe != market.timeframe:
            raise InsufficientDataError(
                f"conversion candles {pair} are {rates.timeframe} bars but the run is "
                f"{market.timeframe}: give them in the run's timeframe",
                {"pair": pair},
            )
        tf = market.tf_us
        ts = rates.timestamp_us
        if len(ts) >= 2 and all(ts[k + 1] - ts[k] > tf for k in range(len(ts) - 1)):
            raise InsufficientDataError(
                f"conversion candles {pair}: no two bars are {market.timeframe} apart; they "
                "look coarser than the run's timeframe",
                {"pair": pair},
            )
        return cls._series_of(pair, direct, market, rates)

    @classmethod
    def _series_of(cls, pair: str, direct: bool, market: Market, rates: Market) -> Conversion:
        tf = market.tf_us
        ts = market.timestamp_us
        at_close = _count_closed(rates.timestamp_us, ts)
        at_open = _count_closed(rates.timestamp_us, [t - tf for t in ts])
        return cls(None, (pair, direct, rates, at_close, at_open))

    def at_close(self, i: int) -> Rate:
        """The rate at the close of primary bar ``i``."""
        return self._rate(i, True)

    def at_open(self, i: int) -> Rate:
        """The rate at the open of primary bar ``i`` (intrabar fills)."""
        return self._rate(i, False)

    def _rate(self, i: int, close: bool) -> Rate:
        if self._constant is not None:
            return self._constant
        assert self._series is not None
        pair, direct, rates, at_close, at_open = self._series
        n = (at_close if close else at_open)[i]
        if n == 0:
            first = rates.timestamp_us[0] if len(rates.timestamp_us) else 0
            raise InsufficientDataError(
                f"no {pair} conversion rate yet at the {'close' if close else 'open'} of bar "
                f"{i}: the conversion candles start at {first} µs",
                {"pair": pair, "bar": i},
            )
        bid, ask = rates.bid_close[n - 1], rates.ask_close[n - 1]
        return Rate(bid, ask) if direct else Rate(1.0 / ask, 1.0 / bid)
