"""The pure-Python reference engine: docs/engine.md written as plain loops over Python floats.

It never imports the Rust core. Every arithmetic step follows the text's operation order, so a run
reproduces the Rust engine's trades, equity curve and metrics bit for bit; parity tests compare the
two. The config is the JSON layout of the Rust ``StrategyConfig`` with the same defaults and checks.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import numpy as np
from pydantic import ValidationError

from omega.config import BacktestConfig, config_error
from omega.errors import (
    InsufficientDataError,
    InvalidConfigError,
    InvalidSignalError,
    OmegaError,
    StrategyPanicError,
    config_warning_error,
)
from omega.instruments import Instrument
from omega.instruments import resolve as resolve_instrument
from omega.reference.account import Margin, Swaps
from omega.reference.cache import IndicatorCache, MarketHost
from omega.reference.conversion import Conversion, Rate
from omega.reference.market import Market
from omega.reference.metrics import compute_metrics, ieee_div
from omega.reference.rng import SplitMix64
from omega.reference.sessions import in_sessions, minute_of_day_utc, parse_hhmm
from omega.reference.strategy import Strategy
from omega.reference.types import (
    Candle,
    Close,
    DataSlice,
    Direction,
    ExitReason,
    Hold,
    ModifyStopLoss,
    ModifyTakeProfit,
    Position,
    ReferenceBacktestResult,
    TradeResult,
    TradeSignal,
)

__all__ = ["parse_config", "run_backtest", "run_reference_backtest", "strategy_name"]

_MINUTE_US = 60_000_000
PROGRESS_EVERY = 4096
"""Bars between two calls of a run's progress callback."""
_TF_MINUTES = {"M1": 1, "M5": 5, "M15": 15, "M30": 30, "H1": 60, "H4": 240, "D1": 1440}

# --- configuration ---------------------------------------------------------------------------------


def _bad_key(path: str, reason: str) -> InvalidConfigError:
    return InvalidConfigError(f"invalid parameter '{path}': {reason}", {"key": path})


def parse_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a run config (JSON layout of the Rust ``StrategyConfig``) and fill in every default.

    The rules are those of `omega.config.BacktestConfig` (one table for the API and this backend;
    docs/config.md): raises ``InvalidConfigError`` (E4002) naming the offending key.
    """
    if not isinstance(config, Mapping):
        raise InvalidConfigError(f"invalid configuration: expected an object, got {type(config).__name__}")
    try:
        return BacktestConfig.model_validate(dict(config)).to_dict()
    except ValidationError as e:
        raise config_error(e) from e


# --- strategy calls --------------------------------------------------------------------------------

_T = TypeVar("_T")
_P = ParamSpec("_P")


def strategy_name(cls: type[Strategy]) -> str:
    """The strategy's registry name (its class name if it has none)."""
    name = getattr(cls, "name", None)
    return name if isinstance(name, str) else cls.__name__


def _guarded(name: str, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Call strategy code; any non-Omega exception becomes ``StrategyPanicError`` (E4008) naming it."""
    try:
        return fn(*args, **kwargs)
    except OmegaError:
        raise
    except Exception as err:  # strategy code may raise anything
        raise StrategyPanicError(
            f"strategy '{name}' panicked: {type(err).__name__}: {err}", {"strategy": name}
        ) from err


def _finite(v: object) -> bool:
    """A finite int or float (bool excluded)."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


# --- the run -------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Held:
    """Engine-side state of one open position."""

    id: int
    direction: Direction
    sign: float
    entry_price: float
    entry_index: int
    entry_time_us: int
    stop_loss: float
    take_profit: float | None
    initial_stop_loss: float
    lots: float
    entry_commission: float
    entry_slippage_pips: float
    entry_debit_rate: float
    margin: float
    swap: float
    scenario: int | None
    reason: str
    tags: tuple[str, ...]


def run_backtest(
    strategy: Strategy,
    cache: IndicatorCache,
    market: Market,
    config: Mapping[str, Any],
    rates: Mapping[str, Market] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReferenceBacktestResult:
    """Run an initialised and prepared ``strategy`` over ``market`` (docs/engine.md).

    ``rates`` maps pair names to conversion bars (docs/engine.md "Account currency"). ``progress``,
    if given, is called with the number of bars done every `PROGRESS_EVERY` bars. Errors: E4002
    for a bad config, an unknown instrument without a spec or a config timeframe that is not the
    market's, E4004 for an empty market or a missing conversion pair, E4006 for a non-finite or
    malformed signal/action, E4008 if strategy code raises.
    """
    started = time.perf_counter()
    cfg = parse_config(config)
    eng = cfg["engine"]
    if cfg["timeframe"].strip().upper() != market.timeframe:
        raise _bad_key(
            "timeframe", f"config timeframe {cfg['timeframe']} does not match the market's timeframe {market.timeframe}"
        )
    n = len(market)
    if n == 0:
        raise InsufficientDataError("no bars (empty data)")

    symbol: str = cfg["symbol"]
    instrument = resolve_instrument(symbol, eng["symbol_spec"])
    fx = Conversion.resolve(eng, instrument, market, rates or {})
    tf = market.timeframe
    tf_us = _TF_MINUTES[tf] * _MINUTE_US
    pip = instrument.pip_size
    costs = eng["costs"]
    cs: float = instrument.contract_size
    per_lot: float = costs["commission_per_lot"]
    per_million: float = costs["commission_per_million"]
    slip_fixed: float = costs["slippage_fixed_pips"]
    slip_random: float = costs["slippage_random_pips"]
    buf: float = costs["pip_buffer_factor"] * pip
    windows = [(parse_hhmm(a), parse_hhmm(b)) for a, b in eng["sessions"]]
    cooldown_signal_us: float = eng["cooldown_minutes"] * 60e6
    cooldown_trade_us: float = eng["cooldown_minutes_trade"] * 60e6
    name = strategy_name(type(strategy))

    ts = market.timestamp_us
    bo, bh, bl, bc, bv = market.bid_open, market.bid_high, market.bid_low, market.bid_close, market.bid_volume
    ao, ah, al, ac, av = market.ask_open, market.ask_high, market.ask_low, market.ask_close, market.ask_volume

    def close_time(i: int) -> int:
        return ts[i] + tf_us

    def commission(price: float, lots: float, debit_rate: float) -> float:
        return per_lot * lots + per_million * (price * cs * lots * debit_rate) / 1e6

    def draw_slip(gen: SplitMix64) -> float:
        return slip_fixed + gen.next_f64() * slip_random

    def exit_side_close(p: _Held, i: int) -> float:
        return bc[i] if p.direction == "long" else ac[i]

    def unrealised(p: _Held, mark: float, rate: Rate) -> float:
        return rate.convert((mark - p.entry_price) * p.sign * cs * p.lots)

    def exit_side_open(p: _Held, i: int) -> float:
        return bo[i] if p.direction == "long" else ao[i]

    def worst(p: _Held, i: int) -> float:
        return bl[i] if p.direction == "long" else ah[i]

    def equity_at(rate: Rate, mark: Callable[[_Held, int], float], i: int) -> float:
        """``balance + Σ unrealised`` of the open positions marked at ``mark(p, i)``."""
        open_pnl = 0.0
        for p in held:
            open_pnl += unrealised(p, mark(p, i), rate)
        return balance + open_pnl

    def used_margin() -> float:
        used = 0.0
        for p in held:
            used += p.margin
        return used

    def make_slice(i: int) -> DataSlice:
        t = ts[i]
        return DataSlice(
            symbol, tf, i, t, Candle(t, bo[i], bh[i], bl[i], bc[i], bv[i]), Candle(t, ao[i], ah[i], al[i], ac[i], av[i])
        )

    def invalid(i: int, what: str) -> InvalidSignalError:
        return InvalidSignalError(f"invalid signal: strategy '{name}' at bar {i}: {what}", {"strategy": name, "bar": i})

    rng = SplitMix64(eng["seed"])
    balance: float = eng["initial_balance"]
    held: list[_Held] = []
    trades: list[TradeResult] = []
    equity: list[float] = []
    next_id = 1
    last_signal_bar: int | None = None
    last_exit_bar: int | None = None
    signals = rejected = exposed = 0
    rejected_margin = stop_outs = 0
    margin = Margin.from_config(eng, instrument)
    swaps = Swaps.from_config(eng, instrument, ts[0])

    def record(
        p: _Held, exit_price: float, j: int, reason: ExitReason, exit_c: float, exit_slip: float, rate: Rate
    ) -> TradeResult:
        pnl_price = (exit_price - p.entry_price) * p.sign
        pnl_gross = rate.convert(pnl_price * cs * p.lots)
        total_c = p.entry_commission + exit_c
        risk_money = abs(p.entry_price - p.initial_stop_loss) * cs * p.lots * p.entry_debit_rate
        return TradeResult(
            id=p.id,
            symbol=symbol,
            direction=p.direction,
            entry_index=p.entry_index,
            exit_index=j,
            entry_time_us=p.entry_time_us,
            exit_time_us=ts[j],
            entry_price=p.entry_price,
            exit_price=exit_price,
            initial_stop_loss=p.initial_stop_loss,
            stop_loss=p.stop_loss,
            take_profit=p.take_profit,
            lots=p.lots,
            pnl_pips=pnl_price / pip,
            pnl_gross=pnl_gross,
            commission=total_c,
            swap=p.swap,
            pnl=pnl_gross - total_c + p.swap,
            slippage_pips=p.entry_slippage_pips + exit_slip,
            r_multiple=ieee_div(pnl_gross, risk_money),
            bars_held=j - p.entry_index,
            exit_reason=reason,
            scenario=p.scenario,
            reason=p.reason,
            tags=p.tags,
        )

    def close(p: _Held, base_price: float, j: int, reason: ExitReason, rate: Rate) -> None:
        """Close ``p`` at ``base_price`` with adverse slippage (one draw) at ``rate`` and book it."""
        nonlocal balance, last_exit_bar
        slip = draw_slip(rng)
        exit_price = base_price - slip * pip if p.direction == "long" else base_price + slip * pip
        exit_c = commission(exit_price, p.lots, rate.hi)
        t = record(p, exit_price, j, reason, exit_c, slip, rate)
        balance = balance + t.pnl_gross - exit_c
        held.remove(p)
        trades.append(t)
        last_exit_bar = j

    next_open = eng["fill"] == "next_open"
    pending: TradeSignal | None = None  # next_open: the previous bar's signal

    def try_open(
        signal: TradeSignal, entry: float, i: int, rate: Rate, mark: Callable[[_Held, int], float]
    ) -> bool | None:
        """Open ``signal`` at ``entry`` (before slippage) on bar ``i`` at ``rate``, the equity at the fill
        marked at ``mark``; True = opened, False = rejected, None = rejected for want of margin."""
        nonlocal rng, balance, next_id
        sl = float(signal.stop_loss)
        is_long = signal.direction == "long"
        if not ((sl < entry) if is_long else (sl > entry)):
            return False
        trial = rng.copy()  # committed only if the signal is executed
        slip = draw_slip(trial)
        fill = entry + slip * pip if is_long else entry - slip * pip
        lots = _size(eng, instrument, rate.hi, fill, sl)
        if lots is None:
            return False
        required = 0.0
        if margin is not None:
            required = margin.required(fill, lots, rate.hi)
            if not Margin.fits(required, equity_at(rate, mark, i), used_margin()):
                return None
        rng = trial
        entry_c = commission(fill, lots, rate.hi)
        balance = balance - entry_c
        tp = signal.take_profit
        held.append(
            _Held(
                id=next_id,
                direction=signal.direction,
                sign=1.0 if is_long else -1.0,
                entry_price=fill,
                entry_index=i,
                entry_time_us=ts[i],
                stop_loss=sl,
                take_profit=None if tp is None else float(tp),
                initial_stop_loss=sl,
                lots=lots,
                entry_commission=entry_c,
                entry_slippage_pips=slip,
                entry_debit_rate=rate.hi,
                margin=required,
                swap=0.0,
                scenario=signal.scenario,
                reason=str(signal.reason),
                tags=tuple(signal.tags),
            )
        )
        next_id += 1
        return True

    def count(opened: bool | None) -> None:
        nonlocal rejected, rejected_margin
        if opened is not True:
            rejected += 1
        if opened is None:
            rejected_margin += 1

    for i in range(n):
        if progress is not None and i % PROGRESS_EVERY == 0:
            progress(i)
        closed_now = False

        # rollover: swaps since the previous bar's open, on the positions held after that bar
        if swaps is not None:
            nights = swaps.nights_until(ts[i])
            if nights > 0.0 and held:
                rate = fx.at_open(i)
                for p in held:
                    q = swaps.quote_amount(p.direction, exit_side_close(p, i - 1), p.lots, nights)
                    amount = rate.convert(q)
                    balance += amount
                    p.swap += amount

        # 0. next_open: fill the previous bar's signal at this bar's entry-side open
        if pending is not None:
            sig, pending = pending, None
            open_price = ao[i] if sig.direction == "long" else bo[i]
            rate = fx.at_open(i)
            count(try_open(sig, open_price, i, rate, exit_side_open))

        # 1. intrabar SL / TP of positions opened before this bar
        for p in list(held):
            if p.direction == "long":
                o, hi, lo = bo[i], bh[i], bl[i]
                if lo <= p.stop_loss + buf:
                    close(p, min(p.stop_loss, o), i, "stop_loss", fx.at_open(i))
                    closed_now = True
                elif p.take_profit is not None and hi >= p.take_profit - buf:
                    close(p, max(p.take_profit, o), i, "take_profit", fx.at_open(i))
                    closed_now = True
            else:
                o, hi, lo = ao[i], ah[i], al[i]
                if hi >= p.stop_loss - buf:
                    close(p, max(p.stop_loss, o), i, "stop_loss", fx.at_open(i))
                    closed_now = True
                elif p.take_profit is not None and lo <= p.take_profit + buf:
                    close(p, min(p.take_profit, o), i, "take_profit", fx.at_open(i))
                    closed_now = True

        # 1b. stop-out: the margin level at the worst exit-side price of the bar
        if margin is not None and held:
            rate = fx.at_open(i)
            if margin.stopped_out(equity_at(rate, worst, i), used_margin()):
                stop_outs += 1
                for p in list(held):
                    close(p, worst(p, i), i, "stop_out", rate)
                closed_now = True

        # 2. manage_position (positions opened before this bar)
        if any(p.entry_index < i for p in held):
            bar = make_slice(i)
            rate = fx.at_close(i)
            for p in list(held):
                if p.entry_index == i:
                    continue
                mark = exit_side_close(p, i)
                view = Position(
                    id=p.id,
                    symbol=symbol,
                    direction=p.direction,
                    entry_price=p.entry_price,
                    entry_time_us=p.entry_time_us,
                    stop_loss=p.stop_loss,
                    take_profit=p.take_profit,
                    lot_size=p.lots,
                    pnl_pips=(mark - p.entry_price) * p.sign / pip,
                    pnl_usd=unrealised(p, mark, rate),
                    bars_held=i - p.entry_index,
                    entry_index=p.entry_index,
                )
                action = _guarded(name, strategy.manage_position, view, bar)
                if isinstance(action, Hold):
                    continue
                if isinstance(action, ModifyStopLoss):
                    if not _finite(action.new_sl):
                        raise invalid(i, f"ModifyStopLoss to {action.new_sl!r}")
                    p.stop_loss = float(action.new_sl)
                elif isinstance(action, ModifyTakeProfit):
                    if not _finite(action.new_tp):
                        raise invalid(i, f"ModifyTakeProfit to {action.new_tp!r}")
                    p.take_profit = float(action.new_tp)
                elif isinstance(action, Close):
                    close(p, mark, i, "timeout" if action.reason == "timeout" else "strategy_close", rate)
                    closed_now = True
                else:
                    raise invalid(i, f"manage_position returned {action!r}, not a PositionAction")

        # 3. entry gate
        ct = close_time(i)
        allowed = (
            (eng["start_time_us"] is None or ts[i] >= eng["start_time_us"])
            and len(held) < eng["max_open_positions"]
            and (eng["allow_same_bar_reentry"] or not closed_now)
            and (not windows or in_sessions(windows, minute_of_day_utc(ct)))
            and not (
                cooldown_trade_us > 0.0
                and last_exit_bar is not None
                and float(ct - close_time(last_exit_bar)) < cooldown_trade_us
            )
            and not (
                cooldown_signal_us > 0.0
                and last_signal_bar is not None
                and float(ct - close_time(last_signal_bar)) < cooldown_signal_us
            )
            and not (
                eng["cooldown_candles"] > 0
                and last_signal_bar is not None
                and i - last_signal_bar < eng["cooldown_candles"]
            )
        )

        # 4. evaluate → signal → fill
        if allowed:
            bar = make_slice(i)
            signal = _guarded(name, strategy.evaluate, bar, cache)
            if signal is not None:
                if not isinstance(signal, TradeSignal):
                    raise invalid(i, f"evaluate returned {signal!r}, not a TradeSignal or None")
                signals += 1
                last_signal_bar = i
                if signal.direction not in ("long", "short"):
                    raise invalid(i, f"direction {signal.direction!r} is not 'long' or 'short'")
                tp = signal.take_profit
                if not (_finite(signal.entry_price) and _finite(signal.stop_loss) and (tp is None or _finite(tp))):
                    raise invalid(
                        i,
                        f"non-finite {signal.direction} signal (entry {signal.entry_price!r}, "
                        f"stop_loss {signal.stop_loss!r}, take_profit {tp!r})",
                    )
                if next_open:
                    # filled at the next bar's open; a signal on the last bar has none (rejected)
                    if i + 1 < n:
                        pending = signal
                    else:
                        rejected += 1
                else:
                    rate = fx.at_close(i)
                    count(try_open(signal, float(signal.entry_price), i, rate, exit_side_close))

        # 5. equity point
        if held:
            exposed += 1
            rate = fx.at_close(i)
            open_pnl = 0.0
            for p in held:
                open_pnl += unrealised(p, exit_side_close(p, i), rate)
            equity.append(balance + open_pnl)
        else:
            equity.append(balance)

    last = n - 1
    open_positions: list[TradeResult] = []
    if eng["close_at_end"]:
        if held:
            rate = fx.at_close(last)
            for p in list(held):
                close(p, exit_side_close(p, last), last, "end_of_data", rate)
            equity[last] = balance
    else:
        rate = fx.at_close(last)
        open_positions = [record(p, exit_side_close(p, last), last, "open", 0.0, 0.0, rate) for p in held]

    metrics = compute_metrics(
        trades,
        equity,
        initial_balance=eng["initial_balance"],
        bar_open_us=ts,
        first_open_us=ts[0],
        last_close_us=close_time(last),
        exposed_bars=exposed,
        signals=signals,
        signals_rejected=rejected,
        signals_rejected_margin=rejected_margin,
        stop_outs=stop_outs,
    )
    return ReferenceBacktestResult(
        trades=trades,
        open_positions=open_positions,
        equity_curve=np.asarray(equity, dtype=np.float64),
        metrics={k: (None if math.isnan(v) else v) for k, v in metrics.items()},
        bars_processed=n,
        execution_time_ms=(time.perf_counter() - started) * 1000.0,
    )


def _size(eng: Mapping[str, Any], instrument: Instrument, debit_rate: float, fill: float, sl: float) -> float | None:
    """Lots for an entry at ``fill`` with stop ``sl`` (docs/engine.md "Sizing"); None = rejected."""
    grid = instrument.lot_grid()
    if eng["sizing"] == "fixed":
        steps = grid.steps_in(eng["fixed_lots"])
    else:
        pip = instrument.pip_size
        stop_pips = abs(fill - sl) / pip
        pip_value = pip * instrument.contract_size * debit_rate
        raw = ieee_div(eng["risk_per_trade"], stop_pips * pip_value)
        steps = grid.steps_in(raw)
    clamped = grid.clamp(steps)
    return None if clamped is None else grid.lots(clamped)


def run_with_strategy(
    strategy_cls: type[Strategy],
    config: Mapping[str, Any],
    candles: Any,
    job: Callable[[Strategy, IndicatorCache, Market, dict[str, Any]], _T],
) -> _T:
    """Validate ``config`` and ``candles``, build and prepare the strategy, run ``job`` with it
    (a backtest or a scan), and release the strategy (its cleanup error never hides the job's)."""
    cfg = parse_config(config)
    eng = cfg["engine"]
    market = Market.from_arrow(
        candles, cfg["symbol"], cfg["timeframe"], allow_crossed_quotes=eng["allow_crossed_quotes"]
    )
    cache = IndicatorCache(MarketHost(market, eng["htf_anchor"]))
    name = strategy_name(strategy_cls)
    strategy = _guarded(name, strategy_cls)
    try:
        try:
            _guarded(name, strategy.on_init, copy.deepcopy(cfg))
        except StrategyPanicError as e:
            # a config warning raised as an error (`-W error`) is the config's fault, as on Rust
            if isinstance(e.__cause__, Warning):
                raise config_warning_error(name, e.__cause__) from e.__cause__
            raise
        _guarded(name, strategy.prepare, cache)
        result = job(strategy, cache, market, cfg)
    except BaseException:
        with contextlib.suppress(Exception):  # the run's error wins over a failing cleanup
            strategy.on_deinit()
        raise
    _guarded(name, strategy.on_deinit)
    return result


def run_reference_backtest(
    strategy_cls: type[Strategy],
    config: Mapping[str, Any],
    candles: Any,
    conversion: Mapping[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReferenceBacktestResult:
    """Validate ``config`` and ``candles``, build the strategy, run it, and release it.

    ``candles`` is anything ``Market.from_arrow`` accepts (pyarrow Table/RecordBatch, IPC bytes,
    an Arrow C stream exporter, a dict of columns); ``conversion`` maps pair names (``"USDJPY"``)
    to candles of that pair in the same forms (docs/engine.md "Account currency"). ``progress``:
    see `run_backtest`.
    """

    def job(strategy: Strategy, cache: IndicatorCache, market: Market, cfg: dict[str, Any]) -> ReferenceBacktestResult:
        rates = {
            pair: _conversion_market(pair, c, market.timeframe, cfg["engine"]["allow_crossed_quotes"])
            for pair, c in (conversion or {}).items()
        }
        return run_backtest(strategy, cache, market, cfg, rates, progress)

    return run_with_strategy(strategy_cls, config, candles, job)


def _conversion_market(pair: Any, candles: Any, timeframe: str, allow_crossed_quotes: bool) -> Market:
    """Validated conversion bars of ``pair`` (E4004 naming the pair)."""
    if not isinstance(pair, str):
        raise InvalidConfigError("invalid parameter 'conversion': keys must be pair names such as 'USDJPY'")
    try:
        return Market.from_arrow(candles, pair, timeframe, allow_crossed_quotes=allow_crossed_quotes)
    except InsufficientDataError as e:
        raise InsufficientDataError(f"conversion candles '{pair}': {e}", {**e.context, "pair": pair}) from e
