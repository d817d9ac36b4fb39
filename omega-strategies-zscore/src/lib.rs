//! # omega-strategies-zscore: Mean Reversion Z-Score (MRZ) for Omega
//!
//! The strategy of `spec/mrz-strategy.md` as a `RustStrategy`, exported through the omega-core
//! plugin ABI (`export_strategy!`) and handed to Python as a `PyCapsule` by the native module
//! `omega_strategies_zscore._native`. Indicator series come from the core's IndicatorCache; only
//! the strategy's own tables (HTF bias, scenario-6 chain) and the on-demand values of scenarios
//! 4 and 5 are computed here.
//!
//! - [`params`]: strict parsing of `config.params` (E4002 naming the key)
//! - [`htf`]: visible HTF bar with the stale rule, bias filters A/B, scenario-6 chain
//! - [`vol_cluster`]: scenario 5's volatility-cluster guard (1-D k-means)
//! - [`local_z`]: scenario 4's local Kalman-GARCH z
//! - [`scenarios`]: scenarios 1–6 in the original's order, signal construction, `r5`
//! - [`exits`]: the position manager (timeout)
//!
//! Cargo features: none. No `unsafe` in this crate.
#![deny(unsafe_code)]

pub mod exits;
pub mod htf;
pub mod local_z;
pub mod params;
pub mod scenarios;
pub mod vol_cluster;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use omega_core::{
    Capabilities, DataSlice, IndicatorCache, Position, PositionAction, RustStrategy, StrategyConfig, StrategyError,
    Timeframe, TradeSignal,
};

use crate::exits::Timeout;
use crate::htf::HtfTables;
use crate::local_z::LocalZ;
use crate::params::MrzParams;
use crate::scenarios::{Evaluator, Ids, Keys, Memo};
use crate::vol_cluster::GuardConfig;

/// Registry name of the strategy.
pub const STRATEGY_NAME: &str = "mean_reversion_z_score";
/// Version of the strategy (the crate version).
pub const STRATEGY_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The MRZ strategy. Lifecycle: `default()` → `on_init` (parse params) → `prepare` (request series,
/// tabulate HTF filters) → per bar `manage_position` / `evaluate`.
#[derive(Default)]
pub struct MeanReversionZScore {
    /// Set by `on_init`.
    eval: Option<Evaluator>,
    timeout: Timeout,
    primary: Option<Timeframe>,
    warnings: Vec<String>,
    /// An error met inside `evaluate` (a series the host could not give), reported by `take_error`.
    error: Mutex<Option<StrategyError>>,
    /// Whether `error` may hold an error: `take_error` runs after every bar, and this spares it
    /// the lock on the (normal) error-free path.
    has_error: AtomicBool,
}

impl MeanReversionZScore {
    /// Configurations that were accepted but cannot do what they seem to (spec §7), and timeframes
    /// that could not be provided. Filled by `on_init` and `prepare`.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The parsed parameters (after `on_init`).
    pub fn params(&self) -> Option<&MrzParams> {
        self.eval.as_ref().map(|e| &e.p)
    }
}

impl RustStrategy for MeanReversionZScore {
    fn evaluate(&self, slice: &DataSlice<'_>, cache: &IndicatorCache<'_>) -> Option<TradeSignal> {
        let eval = self.eval.as_ref()?;
        match eval.evaluate(slice, cache) {
            Ok(sig) => sig,
            Err(e) => {
                let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
                slot.get_or_insert(e);
                self.has_error.store(true, Ordering::Release);
                None
            }
        }
    }

    fn manage_position(&self, position: &Position, slice: &DataSlice<'_>) -> PositionAction {
        self.timeout.action(position, slice)
    }

    fn primary_timeframe(&self) -> Timeframe {
        self.primary.unwrap_or(Timeframe::M1)
    }

    fn on_init(&mut self, config: &StrategyConfig) -> Result<(), StrategyError> {
        let p = MrzParams::from_config(config)?;
        let allowed_ranks = p.vol_allowed.iter().filter_map(|n| vol_cluster::rank_of_name(n)).collect();
        let guard = GuardConfig {
            feature: p.vol_feature,
            window: p.vol_window,
            k: p.vol_k,
            log_transform: p.vol_log_transform,
            min_points: p.vol_min_points,
            garch_lookback: p.vol_garch_lookback,
            hysteresis: p.cluster_hysteresis_bars,
            atr_length: p.atr_length,
            garch: p.garch,
            allowed_ranks,
        };
        let local_z = (p.local_z_lookback > 0).then_some(LocalZ {
            lookback: p.local_z_lookback,
            kalman_r: p.kalman_r,
            kalman_q: p.kalman_q,
            garch: p.garch,
        });
        self.primary = Some(p.primary);
        self.timeout = Timeout::new(p.use_position_manager, p.max_holding_minutes);
        self.warnings = p.warnings.clone();
        self.eval = Some(Evaluator {
            keys: Keys::new(&p),
            ids: Ids::default(),
            htf: HtfTables::default(),
            guard,
            local_z,
            memo: Mutex::new(Memo::default()),
            order: scenarios::active_order(&p),
            gate: Vec::new(),
            htf_tag: format!("htf_{}_ema{}", p.htf_a.label, p.htf_a.ema),
            p,
        });
        Ok(())
    }

    fn prepare(&mut self, cache: &IndicatorCache<'_>) -> Result<(), StrategyError> {
        let eval = self
            .eval
            .as_mut()
            .ok_or_else(|| StrategyError::InternalError { reason: "prepare called before on_init".into() })?;
        let p = &eval.p;
        let bars = cache.bars();
        if bars.timeframe != p.primary {
            return Err(StrategyError::config(format!(
                "the market's timeframe is {}, the config's is {}",
                bars.timeframe, p.primary
            )));
        }
        let active = |n: usize| p.active(n, true) || p.active(n, false);
        let need_bias = (2..=6).any(active);
        // Every primary series and every higher timeframe the tables below read, side by side.
        let mut timeframes = Vec::new();
        if need_bias && p.uses_htf() {
            timeframes.extend([p.htf_a.tf, p.htf_b.tf].into_iter().flatten());
        }
        if active(6) {
            timeframes.extend(p.s6.iter().map(|s| s.tf));
        }
        cache.prefetch(&eval.keys.needed(p), &timeframes)?;
        eval.ids = Ids::register(&eval.keys, p, cache)?;
        eval.htf = HtfTables::build(p, cache, need_bias, active(6))?;
        eval.gate = eval.build_gate(cache);
        self.warnings.extend(eval.htf.warnings.iter().cloned());
        Ok(())
    }

    /// The timeout is MRZ's only position rule: without it `manage_position` always holds. With
    /// a gate (`prepare`), the engine asks [`next_candidate`](Self::next_candidate) instead of
    /// calling `evaluate` on every bar.
    fn capabilities(&self) -> Capabilities {
        let gated = self.eval.as_ref().is_some_and(|e| !e.gate.is_empty());
        Capabilities { manages_positions: self.timeout.max_holding_minutes.is_some(), next_candidate: gated }
    }

    /// The first bar `>= from` the gate lets through (`evaluate` returns `None` on every other).
    fn next_candidate(&self, from: usize, cache: &IndicatorCache<'_>) -> Option<usize> {
        match self.eval.as_ref() {
            Some(e) => e.next_candidate(from, cache),
            None => None,
        }
    }

    fn name(&self) -> &str {
        STRATEGY_NAME
    }

    fn version(&self) -> &str {
        STRATEGY_VERSION
    }

    fn take_error(&self) -> Option<StrategyError> {
        if !self.has_error.swap(false, Ordering::Acquire) {
            return None;
        }
        self.error.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

omega_core::export_strategy!(MeanReversionZScore);

/// The Python extension module `omega_strategies_zscore._native`.
mod python {
    use pyo3::prelude::*;
    use pyo3::types::PyCapsule;

    /// The strategy's plugin table as a `PyCapsule` named `omega.strategy_plugin.v1`.
    ///
    /// The capsule owns a copy of the static table (its strings and functions are `'static` in
    /// this extension module, which Python never unloads); omega-core keeps the capsule alive for
    /// as long as it uses the table.
    #[pyfunction]
    fn plugin_capsule(py: Python<'_>) -> PyResult<Bound<'_, PyCapsule>> {
        PyCapsule::new_with_value(py, *super::plugin_table(), omega_core::plugin::CAPSULE_NAME)
    }

    #[pymodule]
    fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", super::STRATEGY_VERSION)?;
        m.add("STRATEGY_NAME", super::STRATEGY_NAME)?;
        m.add("CORE_VERSION", omega_core::CORE_VERSION)?;
        m.add_function(wrap_pyfunction!(plugin_capsule, m)?)?;
        Ok(())
    }
}
