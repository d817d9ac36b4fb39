//! `omega_test_sma_cross`: long when SMA(fast) of bid closes crosses above SMA(slow), short on the
//! opposite cross; entry at the ask (long) / bid (short) close, SL/TP at k·ATR(bid) from the entry;
//! positions close with reason "timeout" after `max_bars`. It reads only the `IndicatorCache`.
//! `panic_at_bar` and `fail_init` exist to test the plugin boundary. The pure-Python twin is
//! `omega_test_plugin.reference`; the parameter model is `omega_test_plugin.params`.

use std::collections::HashMap;

use omega_core::indicators::{IndicatorKey, PriceSide};
use omega_core::{
    Capabilities, DataSlice, Direction, IndicatorCache, Position, PositionAction, RustStrategy, StrategyConfig,
    StrategyError, Timeframe, TradeSignal,
};

/// Registry name.
pub const STRATEGY_NAME: &str = "omega_test_sma_cross";
/// Strategy version.
pub const STRATEGY_VERSION: &str = "0.1.0";

/// The strategy's parameters (`config.params`), with the defaults of `omega_test_plugin.params`.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    pub fast: usize,
    pub slow: usize,
    pub atr_length: usize,
    pub sl_atr: f64,
    pub tp_atr: f64,
    pub max_bars: usize,
    /// `evaluate` panics at this bar (tests the panic guard).
    pub panic_at_bar: Option<usize>,
    /// `on_init` fails with E4002 (tests error propagation).
    pub fail_init: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            fast: 10,
            slow: 30,
            atr_length: 14,
            sl_atr: 2.0,
            tp_atr: 3.0,
            max_bars: 60,
            panic_at_bar: None,
            fail_init: false,
        }
    }
}

fn whole(name: &str, v: &serde_json::Value, min: u64) -> Result<usize, StrategyError> {
    let n = v.as_u64().or_else(|| v.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1e15).map(|f| f as u64));
    match n {
        Some(n) if n >= min => Ok(n as usize),
        _ => Err(StrategyError::param(name, format!("must be a whole number >= {min}, got {v}"))),
    }
}

fn positive(name: &str, v: &serde_json::Value) -> Result<f64, StrategyError> {
    match v.as_f64() {
        Some(f) if f.is_finite() && f > 0.0 => Ok(f),
        _ => Err(StrategyError::param(name, format!("must be a finite number > 0, got {v}"))),
    }
}

impl Params {
    /// Parse `config.params` (E4002 naming the parameter; unknown keys are refused).
    pub fn from_map(map: &serde_json::Map<String, serde_json::Value>) -> Result<Self, StrategyError> {
        let mut p = Params::default();
        for (k, v) in map {
            match k.as_str() {
                "fast" => p.fast = whole(k, v, 1)?,
                "slow" => p.slow = whole(k, v, 1)?,
                "atr_length" => p.atr_length = whole(k, v, 1)?,
                "sl_atr" => p.sl_atr = positive(k, v)?,
                "tp_atr" => p.tp_atr = positive(k, v)?,
                "max_bars" => p.max_bars = whole(k, v, 1)?,
                "panic_at_bar" => p.panic_at_bar = if v.is_null() { None } else { Some(whole(k, v, 0)?) },
                "fail_init" => {
                    p.fail_init = match v {
                        serde_json::Value::Null => false,
                        serde_json::Value::Bool(b) => *b,
                        _ => return Err(StrategyError::param(k.as_str(), format!("must be a boolean, got {v}"))),
                    }
                }
                _ => {
                    return Err(StrategyError::param(
                        k.as_str(),
                        "unknown parameter (known: fast, slow, atr_length, sl_atr, tp_atr, max_bars, panic_at_bar, \
                         fail_init)",
                    ))
                }
            }
        }
        if p.fast >= p.slow {
            return Err(StrategyError::param("slow", format!("must be greater than fast ({} >= {})", p.fast, p.slow)));
        }
        Ok(p)
    }
}

/// The series the strategy reads, requested in `prepare`.
#[derive(Clone, Copy, Debug)]
struct Keys {
    fast: IndicatorKey,
    slow: IndicatorKey,
    atr: IndicatorKey,
}

/// The SMA-cross test strategy.
#[derive(Debug)]
pub struct SmaCross {
    params: Params,
    timeframe: Timeframe,
    long_ok: bool,
    short_ok: bool,
    keys: Option<Keys>,
}

impl Default for SmaCross {
    fn default() -> Self {
        SmaCross { params: Params::default(), timeframe: Timeframe::M1, long_ok: true, short_ok: true, keys: None }
    }
}

impl SmaCross {
    /// The parameters in use.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The signal direction and scenario at bar `i`, if the SMAs cross there (the one rule that both
    /// `evaluate` and `next_candidate` use, so they cannot disagree).
    fn cross_at(&self, i: usize, fast: &[f64], slow: &[f64], atr: &[f64]) -> Option<(Direction, u32)> {
        if i == 0 || i >= fast.len().min(slow.len()).min(atr.len()) {
            return None;
        }
        let (pf, ps, f, s, a) = (fast[i - 1], slow[i - 1], fast[i], slow[i], atr[i]);
        if !(pf.is_finite() && ps.is_finite() && f.is_finite() && s.is_finite() && a.is_finite()) {
            return None;
        }
        if pf <= ps && f > s && self.long_ok {
            Some((Direction::Long, 1))
        } else if pf >= ps && f < s && self.short_ok {
            Some((Direction::Short, 2))
        } else {
            None
        }
    }
}

impl RustStrategy for SmaCross {
    fn evaluate(&self, slice: &DataSlice<'_>, cache: &IndicatorCache<'_>) -> Option<TradeSignal> {
        let i = slice.index;
        if self.params.panic_at_bar == Some(i) {
            panic!("panic_at_bar reached at bar {i}");
        }
        let k = self.keys.as_ref()?;
        let (fast, slow, atr) = (cache.series(&k.fast).ok()?, cache.series(&k.slow).ok()?, cache.series(&k.atr).ok()?);
        let (direction, scenario) = self.cross_at(i, fast, slow, atr)?;
        let (f, s, a) = (fast[i], slow[i], atr[i]);
        let entry = match direction {
            Direction::Long => slice.ask.close,
            Direction::Short => slice.bid.close,
        };
        let sign = direction.sign();
        let meta: HashMap<String, f64> = [("fast", f), ("slow", s), ("atr", a)].map(|(k, v)| (k.to_string(), v)).into();
        Some(TradeSignal::new(
            direction,
            entry,
            entry - sign * self.params.sl_atr * a,
            Some(entry + sign * self.params.tp_atr * a),
            "sma_cross".to_string(),
            vec!["sma".to_string(), "cross".to_string()],
            Some(scenario),
            Some(meta),
        ))
    }

    fn manage_position(&self, position: &Position, _slice: &DataSlice<'_>) -> PositionAction {
        if position.bars_held >= self.params.max_bars {
            PositionAction::Close { reason: "timeout".to_string() }
        } else {
            PositionAction::Hold
        }
    }

    fn primary_timeframe(&self) -> Timeframe {
        self.timeframe
    }

    /// Crosses are rare: the engine asks `next_candidate` instead of calling `evaluate` on every bar.
    fn capabilities(&self) -> Capabilities {
        Capabilities { manages_positions: true, next_candidate: true }
    }

    fn next_candidate(&self, from: usize, cache: &IndicatorCache<'_>) -> Option<usize> {
        // `panic_at_bar` must still be reached: it is a candidate bar.
        let panic_at = self.params.panic_at_bar.filter(|&p| p >= from);
        let k = self.keys.as_ref();
        let series = k
            .and_then(|k| Some((cache.series(&k.fast).ok()?, cache.series(&k.slow).ok()?, cache.series(&k.atr).ok()?)));
        let cross = series
            .and_then(|(fast, slow, atr)| (from..fast.len()).find(|&i| self.cross_at(i, fast, slow, atr).is_some()));
        match (panic_at, cross) {
            (Some(p), Some(c)) => Some(p.min(c)),
            (p, c) => p.or(c),
        }
    }

    fn on_init(&mut self, config: &StrategyConfig) -> Result<(), StrategyError> {
        let params = Params::from_map(&config.params)?;
        if params.fail_init {
            return Err(StrategyError::param("fail_init", "fail_init is set: refusing to initialise"));
        }
        self.params = params;
        self.timeframe = config.primary_timeframe()?;
        self.long_ok = config.direction_allowed(true) && config.enabled_scenarios.contains(&1);
        self.short_ok = config.direction_allowed(false) && config.enabled_scenarios.contains(&2);
        Ok(())
    }

    fn prepare(&mut self, cache: &IndicatorCache<'_>) -> Result<(), StrategyError> {
        let keys = Keys {
            fast: IndicatorKey::sma(PriceSide::Bid, self.params.fast),
            slow: IndicatorKey::sma(PriceSide::Bid, self.params.slow),
            atr: IndicatorKey::atr(PriceSide::Bid, self.params.atr_length),
        };
        for key in [&keys.fast, &keys.slow, &keys.atr] {
            cache.series(key)?;
        }
        self.keys = Some(keys);
        Ok(())
    }

    fn name(&self) -> &str {
        STRATEGY_NAME
    }

    fn version(&self) -> &str {
        STRATEGY_VERSION
    }
}
