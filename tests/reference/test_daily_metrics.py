"""Sharpe and Sortino from daily returns at the FX rollover (docs/engine.md "Metrics").

The reference implementation (`omega.reference.metrics`) is checked against an independent one
written here from the definition with pandas and the tz database (America/New_York), and against
the worked example's numbers computed by hand. The Rust engine holds the same worked example in
`engine::metrics::tests`; the parity suite holds both backends bit-identical on real runs.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from omega.reference.metrics import YEAR_US, DailyEquity, daily_equity, sharpe_sortino

HOUR_US = 3_600_000_000
INITIAL = 100_000.0


def _us(y: int, mo: int, d: int, h: int) -> int:
    return int(datetime(y, mo, d, h, tzinfo=UTC).timestamp()) * 1_000_000


# Four trading days around the weekend on which New York switches to daylight saving time
# (Sunday 2024-03-10, 02:00 local): the worked example of docs/engine.md.
WORKED = [
    (_us(2024, 3, 7, 20), 100_200.0),  # Thu 15:00 EST: the day that ends Thu 17:00 New York
    (_us(2024, 3, 7, 21), 100_400.0),  # Thu 16:00 EST: same day, its last point
    (_us(2024, 3, 7, 22), 100_100.0),  # Thu 17:00 EST: the next day starts
    (_us(2024, 3, 8, 21), 99_800.0),  # Fri 16:00 EST; no bars over the weekend
    (_us(2024, 3, 10, 21), 99_900.0),  # Sun 17:00 EDT: Monday's day starts
    (_us(2024, 3, 11, 20), 100_300.0),  # Mon 16:00 EDT
    (_us(2024, 3, 11, 21), 100_600.0),  # Mon 17:00 EDT (16:00 in EST): Tuesday's day
]


def _independent(bar_open_us: list[int], equity: list[float], initial: float) -> tuple[float, float]:
    """The definition, computed with pandas' tz conversion and numpy instead of Omega's helpers."""
    ny = pd.to_datetime(pd.Series(bar_open_us), unit="us", utc=True).dt.tz_convert("America/New_York")
    # the trading day that ends at 17:00 New York: shift the wall clock by 7 h, take the date
    day = (ny + pd.Timedelta(hours=7)).dt.date
    day_end = pd.Series(equity).groupby(day.values).last()
    closes = np.concatenate([[initial], day_end.to_numpy()])
    r = closes[1:] / closes[:-1] - 1.0
    first = pd.Timestamp(day_end.index[0]).tz_localize("America/New_York") - pd.Timedelta(hours=7)
    last = pd.Timestamp(day_end.index[-1]).tz_localize("America/New_York") + pd.Timedelta(hours=17)
    years = (last - first).total_seconds() * 1e6 / YEAR_US
    ann = math.sqrt(len(r) / years)
    sharpe = r.mean() / r.std(ddof=1) * ann
    sortino = r.mean() / math.sqrt(np.mean(np.minimum(r, 0.0) ** 2)) * ann
    return float(sharpe), float(sortino)


def test_day_end_equities_across_dst_and_a_weekend() -> None:
    ts, eq = zip(*WORKED, strict=True)
    daily = daily_equity(ts, eq)
    assert daily.day_end == [100_400.0, 99_800.0, 100_300.0, 100_600.0]
    # Wed 2024-03-06 22:00 UTC (17:00 EST) to Tue 2024-03-12 21:00 UTC (17:00 EDT)
    assert daily.span_us == 143 * HOUR_US
    assert daily_equity([], []) == DailyEquity([], 0)


def test_worked_example_by_hand_and_independently() -> None:
    ts, eq = zip(*WORKED, strict=True)
    sharpe, sortino = sharpe_sortino(INITIAL, daily_equity(ts, eq))
    # by hand (exact fractions, 40 digits): docs/engine.md "Metrics"
    assert abs(sharpe - 4.665100084081398) < 1e-12
    assert abs(sortino - 7.893483776540382) < 1e-12
    want = _independent(list(ts), list(eq), INITIAL)
    assert math.isclose(sharpe, want[0], rel_tol=1e-12)
    assert math.isclose(sortino, want[1], rel_tol=1e-12)


def test_three_weeks_of_hourly_bars_across_the_autumn_switch() -> None:
    """Hourly bars Sunday 17:00 to Friday 17:00 New York (no weekend bars), 2024-10-20 to 2024-11-08,
    across the end of daylight saving time (2024-11-03), a seeded random walk of the equity."""
    rng = np.random.default_rng(5)
    ts: list[int] = []
    t = _us(2024, 10, 20, 21)  # Sun 17:00 EDT
    end = _us(2024, 11, 8, 22)  # Fri 17:00 EST
    while t < end:
        local = pd.Timestamp(t, unit="us", tz="UTC").tz_convert("America/New_York")
        weekend = (local.weekday() == 4 and local.hour >= 17) or local.weekday() == 5
        weekend = weekend or (local.weekday() == 6 and local.hour < 17)
        if not weekend:
            ts.append(t)
        t += HOUR_US
    eq = list(INITIAL + np.cumsum(rng.normal(0.0, 60.0, len(ts))))
    daily = daily_equity(ts, eq)
    assert len(daily.day_end) == 15  # three five-day weeks
    sharpe, sortino = sharpe_sortino(INITIAL, daily)
    want = _independent(ts, eq, INITIAL)
    assert math.isclose(sharpe, want[0], rel_tol=1e-12)
    assert math.isclose(sortino, want[1], rel_tol=1e-12)


def test_nan_rules() -> None:
    day = _us(2024, 1, 2, 12)  # Tue 07:00 EST
    one_day = daily_equity([day, day + HOUR_US], [101.0, 102.0])
    assert len(one_day.day_end) == 1
    assert all(math.isnan(x) for x in sharpe_sortino(100.0, one_day))  # fewer than two days
    days = [day + k * 24 * HOUR_US for k in range(3)]
    assert all(math.isnan(x) for x in sharpe_sortino(100.0, daily_equity(days, [100.0, 100.0, 100.0])))
    sharpe, sortino = sharpe_sortino(100.0, daily_equity(days, [101.0, 103.0, 104.0]))
    assert math.isfinite(sharpe)
    assert math.isnan(sortino)  # no losing day
    wiped = daily_equity(days, [50.0, -10.0, -20.0])  # -20 / -10 - 1 = +1 would read as a gain
    assert all(math.isnan(x) for x in sharpe_sortino(100.0, wiped))
