//! Quote → account currency conversion (docs/engine.md "Account currency").
//!
//! Amounts the engine books (PnL, unrealised PnL, notional commission, risk for sizing) arise in
//! the instrument's quote currency and are converted at the rate valid when they arise: the close
//! of the latest bar of the conversion pair that has closed by then. A credit converts at the lower
//! of the pair's two sides, a debit at the higher one — what a broker converting the amount would
//! charge — so conversion never flatters the account.

use crate::config::EngineConfig;
use crate::error::{Result, StrategyError};
use crate::instruments::Instrument;
use crate::market::MarketData;

/// Quote → account rates at one instant: `lo` for credits, `hi` for debits (`lo <= hi`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    pub lo: f64,
    pub hi: f64,
}

impl Rate {
    /// A rate without spread.
    pub const fn flat(r: f64) -> Self {
        Rate { lo: r, hi: r }
    }

    /// `amount` (quote currency) in account currency: credits at `lo`, debits at `hi`.
    #[inline]
    pub fn convert(&self, amount: f64) -> f64 {
        amount * if amount >= 0.0 { self.lo } else { self.hi }
    }
}

/// Where the rates of a run come from.
#[derive(Clone, Debug)]
enum Source<'a> {
    Constant(Rate),
    /// Bars of a pair quoted as quote/account (`direct`: rate = price) or account/quote (rate = 1 / price).
    Series {
        pair: String,
        direct: bool,
        timestamp_us: &'a [i64],
        bid_close: &'a [f64],
        ask_close: &'a [f64],
        /// Per primary bar: index + 1 of the latest conversion bar closed by the bar's close (0 = none).
        at_close: Vec<u32>,
        /// Per primary bar: the same at the bar's open.
        at_open: Vec<u32>,
    },
}

/// The conversion of one run, resolved before the first bar.
#[derive(Clone, Debug)]
pub struct Conversion<'a> {
    source: Source<'a>,
}

/// The pair names that can convert `quote` into `account`: `QUOTEACCOUNT` (direct) and `ACCOUNTQUOTE`.
pub fn candidate_pairs(quote: &str, account: &str) -> [String; 2] {
    [format!("{quote}{account}"), format!("{account}{quote}")]
}

impl<'a> Conversion<'a> {
    /// Resolve the run's conversion: an explicit `engine.quote_to_account_rate`; no conversion when
    /// the quote currency is the account currency; the traded market itself when its base is the
    /// account currency; else conversion bars of `QUOTEACCOUNT` or `ACCOUNTQUOTE` from `rates`
    /// (E4004 naming the pair when none is given).
    pub fn resolve(
        engine: &EngineConfig,
        instrument: &Instrument,
        market: &'a MarketData,
        rates: &'a [MarketData],
    ) -> Result<Self> {
        if let Some(r) = engine.quote_to_account_rate {
            return Ok(Conversion { source: Source::Constant(Rate::flat(r)) });
        }
        let account = engine.account_currency.as_str();
        if instrument.quote == account {
            return Ok(Conversion { source: Source::Constant(Rate::flat(1.0)) });
        }
        if instrument.base == account {
            return Ok(Self::series(instrument.symbol.clone(), false, market, market));
        }
        let [direct, inverse] = candidate_pairs(&instrument.quote, account);
        let find = |name: &str| rates.iter().find(|m| crate::instruments::normalize_symbol(&m.symbol) == name);
        if let Some(m) = find(&direct) {
            return Self::checked(direct, true, market, m);
        }
        if let Some(m) = find(&inverse) {
            return Self::checked(inverse, false, market, m);
        }
        Err(StrategyError::data(format!(
            "{} is quoted in {} but the account is in {account}: pass conversion candles for {direct} or {inverse} \
             (omega.run_backtest(..., conversion={{\"{direct}\": candles}})), or set engine.quote_to_account_rate",
            instrument.symbol, instrument.quote
        )))
    }

    fn checked(pair: String, direct: bool, market: &'a MarketData, rates: &'a MarketData) -> Result<Self> {
        if rates.timeframe != market.timeframe {
            return Err(StrategyError::data(format!(
                "conversion candles {pair} are {} bars but the run is {}: give them in the run's timeframe",
                rates.timeframe, market.timeframe
            )));
        }
        let tf = market.timeframe.duration_us();
        let ts = &rates.timestamp_us;
        // A coarser series validated as this timeframe would expose its closes early (look-ahead).
        if ts.len() >= 2 && ts.windows(2).all(|w| w[1] - w[0] > tf) {
            return Err(StrategyError::data(format!(
                "conversion candles {pair}: no two bars are {} apart; they look coarser than the run's timeframe",
                market.timeframe
            )));
        }
        Ok(Self::series(pair, direct, market, rates))
    }

    fn series(pair: String, direct: bool, market: &'a MarketData, rates: &'a MarketData) -> Self {
        let tf = market.timeframe.duration_us();
        let conv_ts: &[i64] = &rates.timestamp_us;
        // Bar k has closed by instant t when ts[k] + tf <= t, i.e. ts[k] <= t − tf; both instants
        // (open ts[i] and close ts[i] + tf) move forward with i, so one cursor each suffices.
        let count_closed = |limits: &mut dyn Iterator<Item = i64>| -> Vec<u32> {
            let mut k = 0usize;
            limits
                .map(|limit| {
                    while k < conv_ts.len() && conv_ts[k] <= limit {
                        k += 1;
                    }
                    k as u32
                })
                .collect()
        };
        let at_close = count_closed(&mut market.timestamp_us.iter().copied());
        let at_open = count_closed(&mut market.timestamp_us.iter().map(|&t| t.saturating_sub(tf)));
        Conversion {
            source: Source::Series {
                pair,
                direct,
                timestamp_us: conv_ts,
                bid_close: &rates.bid_close,
                ask_close: &rates.ask_close,
                at_close,
                at_open,
            },
        }
    }

    /// The rate at the close of primary bar `i`.
    #[inline]
    pub fn at_close(&self, i: usize) -> Result<Rate> {
        self.rate(i, true)
    }

    /// The rate at the open of primary bar `i` (intrabar fills).
    #[inline]
    pub fn at_open(&self, i: usize) -> Result<Rate> {
        self.rate(i, false)
    }

    #[inline]
    fn rate(&self, i: usize, close: bool) -> Result<Rate> {
        match &self.source {
            Source::Constant(r) => Ok(*r),
            Source::Series { pair, direct, timestamp_us, bid_close, ask_close, at_close, at_open } => {
                let n = if close { at_close[i] } else { at_open[i] } as usize;
                if n == 0 {
                    return Err(StrategyError::data(format!(
                        "no {pair} conversion rate yet at the {} of bar {i}: the conversion candles start at {} µs",
                        if close { "close" } else { "open" },
                        timestamp_us.first().copied().unwrap_or_default()
                    )));
                }
                let (bid, ask) = (bid_close[n - 1], ask_close[n - 1]);
                Ok(if *direct { Rate { lo: bid, hi: ask } } else { Rate { lo: 1.0 / ask, hi: 1.0 / bid } })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instruments::resolve;
    use crate::types::Timeframe;

    fn market(symbol: &str, ts: Vec<i64>, bid: f64, ask: f64) -> MarketData {
        let n = ts.len();
        let p = |v: f64| (0..n).map(|k| v + k as f64 * 0.01).collect::<Vec<f64>>();
        MarketData::from_vecs(
            symbol,
            Timeframe::M1,
            ts,
            [p(bid), p(bid), p(bid), p(bid), vec![1.0; n], p(ask), p(ask), p(ask), p(ask), vec![1.0; n]],
            false,
        )
        .unwrap()
    }

    const M: i64 = 60_000_000;

    #[test]
    fn credit_low_debit_high() {
        let r = Rate { lo: 0.5, hi: 0.6 };
        assert_eq!(r.convert(10.0), 5.0);
        assert_eq!(r.convert(-10.0), -6.0);
    }

    #[test]
    fn same_currency_is_one_and_base_account_inverts_own_pair() {
        let eng = EngineConfig::default();
        let m = market("USDJPY", vec![0, M, 2 * M], 150.0, 150.02);
        let usd = resolve("EURUSD", &Default::default()).unwrap();
        assert_eq!(Conversion::resolve(&eng, &usd, &m, &[]).unwrap().at_open(0).unwrap(), Rate::flat(1.0));
        let jpy = resolve("USDJPY", &Default::default()).unwrap();
        let c = Conversion::resolve(&eng, &jpy, &m, &[]).unwrap();
        // close of bar 1: bid 150.01, ask 150.03 → credits at 1/150.03, debits at 1/150.01.
        assert_eq!(c.at_close(1).unwrap(), Rate { lo: 1.0 / 150.03, hi: 1.0 / 150.01 });
        // open of bar 1 = close of bar 0.
        assert_eq!(c.at_open(1).unwrap(), Rate { lo: 1.0 / 150.02, hi: 1.0 / 150.0 });
        assert_eq!(c.at_open(0).unwrap_err().code(), "E4004");
    }

    #[test]
    fn cross_needs_conversion_bars_and_names_the_pair() {
        let eng = EngineConfig::default();
        let m = market("EURGBP", vec![0, M, 2 * M, 3 * M], 0.85, 0.8502);
        let i = resolve("EURGBP", &Default::default()).unwrap();
        let e = Conversion::resolve(&eng, &i, &m, &[]).unwrap_err();
        assert_eq!(e.code(), "E4004");
        assert!(e.to_string().contains("GBPUSD or USDGBP"), "{e}");
        // GBPUSD starts one bar later and has a hole at 2M.
        let rates = [market("GBPUSD", vec![M, 3 * M], 1.25, 1.2502)];
        let err = Conversion::resolve(&eng, &i, &m, &rates).unwrap_err();
        assert!(err.to_string().contains("coarser"), "{err}");
        let rates = [market("GBPUSD", vec![M, 2 * M, 4 * M], 1.25, 1.2502)];
        let c = Conversion::resolve(&eng, &i, &m, &rates).unwrap();
        assert_eq!(c.at_close(0).unwrap_err().code(), "E4004");
        assert_eq!(c.at_close(1).unwrap(), Rate { lo: 1.25, hi: 1.2502 });
        assert_eq!(c.at_open(2).unwrap(), Rate { lo: 1.25, hi: 1.2502 });
        assert_eq!(c.at_close(2).unwrap(), Rate { lo: 1.26, hi: 1.2602 });
        // bar 3 (3M): the 4M bar has not closed; the latest closed is 2M.
        assert_eq!(c.at_close(3).unwrap(), Rate { lo: 1.26, hi: 1.2602 });
    }

    #[test]
    fn explicit_rate_wins() {
        let eng = EngineConfig { quote_to_account_rate: Some(0.0067), ..EngineConfig::default() };
        let m = market("USDJPY", vec![0], 150.0, 150.02);
        let i = resolve("USDJPY", &Default::default()).unwrap();
        assert_eq!(Conversion::resolve(&eng, &i, &m, &[]).unwrap().at_open(0).unwrap(), Rate::flat(0.0067));
    }
}
