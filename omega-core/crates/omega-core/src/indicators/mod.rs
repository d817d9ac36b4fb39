//! Indicators: the pure kernels (one module per family), the `IndicatorKey` that names a series
//! across the plugin ABI, the host-side `MarketHost` that computes each series once per market and
//! memoises it (shared by every run of a sweep), and the `IndicatorCache` façade strategies read.
//!
//! Numerics follow spec/mrz-strategy.md §3.0 (pandas-compatible running sums, no FMA, plain
//! left-to-right sums) so that the Python reference (`omega.reference.indicators`) is bit-identical.

pub mod atr;
pub mod cache;
pub mod compute;
pub mod ema;
pub mod garch;
pub mod kalman;
pub mod key;
pub mod rolling;
pub mod rsi;
pub mod store;
pub mod zscore;

pub use cache::{BarsRef, IndicatorCache, IndicatorHost, SeriesId};
pub use key::{IndicatorKey, IndicatorKind, PriceSide};
pub use store::MarketHost;
