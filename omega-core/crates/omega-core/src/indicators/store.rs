//! (in progress) MarketHost: owns MarketData, resampled HTF bars and memoised series.
pub struct MarketHost;
