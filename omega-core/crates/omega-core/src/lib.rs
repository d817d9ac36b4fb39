//! # omega-core
//!
//! The contract every Omega strategy builds on, and the engine that runs it. Pure Rust: no PyO3
//! (the Python bindings live in `omega-core-py`).
//!
//! - [`types`]: the seed's types (`Timeframe`, `CandleData`, `DataSlice`, `TradeSignal`, `Position`, …)
//! - [`strategy`]: the `RustStrategy` trait
//! - [`config`]: `StrategyConfig` (serde) with the engine section
//! - [`error`]: `StrategyError` with stable codes E4001–E4010
//! - [`indicators`]: `IndicatorKey`, the host-side `MarketHost` store and the `IndicatorCache` façade
//! - [`interrupt`]: the per-thread check that lets Ctrl-C or a cancel stop long native work
//! - [`instruments`]: the built-in instrument table, symbol resolution and the lot grid
//! - [`market`]: validated bar columns, higher-timeframe resampling, session clocks
//! - [`engine`]: the bar loop, fills, costs, sizing, portfolio, metrics
//! - [`plugin`]: the versioned C ABI between the core wheel and strategy wheels, and
//!   [`export_strategy!`] — the only module that may use `unsafe`
//!
//! - [`sweep`] (feature `sweep`): many configs over one market on a thread pool, one shared series store
//!
//! Cargo features: `sweep` (adds rayon; only the core wheel enables it, strategy crates need not).
#![deny(unsafe_code)]

pub mod config;
pub mod engine;
pub mod error;
pub mod indicators;
pub mod instruments;
pub mod interrupt;
pub mod market;
#[allow(unsafe_code)]
pub mod plugin;
pub mod strategy;
#[cfg(feature = "sweep")]
pub mod sweep;
pub mod types;

pub use config::{EngineConfig, StrategyConfig};
pub use error::StrategyError;
pub use indicators::{IndicatorCache, IndicatorKey, PriceSide};
pub use strategy::{Capabilities, RustStrategy};
pub use types::{CandleData, DataSlice, Direction, Position, PositionAction, Timeframe, TradeSignal};

/// Version of the omega-core crate that built this binary (recorded in plugin tables).
pub const CORE_VERSION: &str = env!("CARGO_PKG_VERSION");
