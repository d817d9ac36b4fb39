//! The `RustStrategy` trait, exactly as the seed defines it, plus one defaulted extension
//! (`prepare`) that gives a strategy the market and the IndicatorCache once before bar 0.

use crate::config::StrategyConfig;
use crate::error::StrategyError;
use crate::indicators::IndicatorCache;
use crate::types::{DataSlice, Position, PositionAction, Timeframe, TradeSignal};

/// What the engine may skip for a strategy instance (read once, after `prepare`). The default
/// (`Capabilities::EVERY_BAR`) is what every strategy gets unless it says otherwise: its
/// `manage_position` is called for each open position on every bar, and its `evaluate` on every bar
/// the entry gate allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// `manage_position` can return something other than `Hold`. When `false` the engine never
    /// calls it (and the result is the same as if it had returned `Hold`).
    pub manages_positions: bool,
    /// [`RustStrategy::next_candidate`] is implemented: the engine asks it for the next bar at
    /// which `evaluate` can signal and calls nothing for the bars in between.
    pub next_candidate: bool,
}

impl Capabilities {
    /// Manages positions, no `next_candidate`: every allowed bar is evaluated.
    pub const EVERY_BAR: Capabilities = Capabilities { manages_positions: true, next_candidate: false };
}

impl Default for Capabilities {
    fn default() -> Self {
        Self::EVERY_BAR
    }
}

/// Core trait for every strategy the engine can run.
///
/// Lifecycle (driven by the engine, in-process or through the plugin ABI):
/// `Default::default()` → [`on_init`](Self::on_init) (config) → [`prepare`](Self::prepare)
/// (market + indicators, once) → per bar: `manage_position` for each open position, then
/// `evaluate` → [`on_deinit`](Self::on_deinit) when the instance is dropped.
pub trait RustStrategy: Send + Sync {
    /// Evaluate the closed bar `slice.index`; `Some` opens a market position.
    /// Called for every bar on which the engine allows an entry. Must not allocate unless it
    /// returns a signal.
    fn evaluate(&self, slice: &DataSlice<'_>, cache: &IndicatorCache<'_>) -> Option<TradeSignal>;

    /// Manage one open position at bar `slice.index` (after that bar's SL/TP checks).
    fn manage_position(&self, position: &Position, slice: &DataSlice<'_>) -> PositionAction;

    /// The timeframe this strategy expects as primary bars.
    fn primary_timeframe(&self) -> Timeframe;

    /// Custom initialisation after the config has been loaded.
    fn on_init(&mut self, _config: &StrategyConfig) -> Result<(), StrategyError> {
        Ok(())
    }

    /// Omega extension: called once after `on_init`, before bar 0, with the run's market and
    /// IndicatorCache. Request the indicator series here (errors surface before the run starts) and
    /// compute strategy-only series into owned buffers.
    fn prepare(&mut self, _cache: &IndicatorCache<'_>) -> Result<(), StrategyError> {
        Ok(())
    }

    /// Cleanup when the strategy instance is released.
    fn on_deinit(&mut self) {}

    /// Strategy name (registry key), e.g. `"mean_reversion_z_score"`.
    fn name(&self) -> &str;

    /// Strategy version.
    fn version(&self) -> &str {
        "1.0.0"
    }

    /// Omega extension: what the engine may skip for this instance (read once, after `prepare`).
    /// Declare `next_candidate: true` only together with an implementation of
    /// [`next_candidate`](Self::next_candidate), and `manages_positions: false` only if
    /// `manage_position` always returns `Hold`.
    fn capabilities(&self) -> Capabilities {
        Capabilities::EVERY_BAR
    }

    /// Omega extension (used when `capabilities().next_candidate`): the first bar index `>= from`
    /// at which `evaluate` may return a signal, or `None` when no later bar can. The engine does not
    /// call `evaluate` on the bars before it, so `evaluate` must return `None` on each of them (it
    /// must not rely on being called on every bar; the entry gate already skips bars). Typically a
    /// scan of a gate precomputed in `prepare`.
    fn next_candidate(&self, from: usize, _cache: &IndicatorCache<'_>) -> Option<usize> {
        Some(from)
    }

    /// Omega extension: an error the strategy hit during the last `evaluate`/`manage_position`
    /// call (which then returned `None`/`Hold`). The engine checks it after every call and aborts
    /// the run with it. Used by `ForeignStrategy` to surface a plugin's panic (E4008); in-process
    /// strategies normally keep the default.
    fn take_error(&self) -> Option<StrategyError> {
        None
    }
}
