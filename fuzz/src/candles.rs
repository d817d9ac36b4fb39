//! The `candles` target: bid/ask columns and timestamps decoded from bytes, validated by the core
//! (`MarketData::from_vecs`, the one validation every candle source goes through), then, when
//! accepted, everything a run builds on them: the indicator host, every higher timeframe, one
//! indicator key from the input (the request a plugin sends through the host table), a backtest
//! and a scan with a small strategy that trades every few bars.
//!
//! Decoding (little endian, missing bytes read as zero) keeps most rows well-formed, so that the
//! fuzzer spends its time past validation, and lets it break any rule on purpose:
//!
//! ```text
//! header, 24 bytes:
//!   0 timeframe (index into Timeframe::ALL, mod 7)   1 flags (FLAG_*)
//!   2 signal every 1 + b % 16 bars                   3 close after b % 32 bars (0: never)
//!   4 symbol (index into SYMBOLS)                    5 indicator kind  6 side  7 timeframe index
//!   8 indicator param 0 (u16)                        10 indicator param 1 (u16 / 100)
//!   12 first open time (i64 µs, with FLAG_RAW_START) 20 unused
//! rows, 10 bytes each, then the extras their control byte asks for:
//!   0 control (ROW_*)       1 gap: the bar opens 1 + b bars after the previous one
//!   2 mid move (i16 ticks)  4 open, close offsets (i8 ticks)  6 up, down wicks (u8 ticks)
//!   8 volume (u8)           9 spread (u8 ticks; negative with ROW_CROSSED)
//!   extras, in this order: ROW_RAW_GAP an i64 gap in µs; ROW_RAW_PRICE a column index (u8) and
//!   an f64 that replaces that column's value; ROW_RAW_MID an f64 that becomes the mid price.
//! A tick is 1e-5 of the mid price (at least 1e-5).
//! ```

use omega_core::config::{FillModel, HtfAnchor, SizingMode};
use omega_core::engine::{run_backtest, scan_signals};
use omega_core::indicators::key::KEY_PARAMS;
use omega_core::indicators::MarketHost;
use omega_core::market::MarketData;
use omega_core::{
    DataSlice, Direction, IndicatorCache, IndicatorKey, Position, PositionAction, RustStrategy, StrategyConfig,
    Timeframe, TradeSignal,
};

use crate::expect_code;

/// Symbols the header picks from: a USD-quoted pair, a JPY pair (other pip size), a cross that
/// needs a conversion pair the target does not give (E4004), and a name no table knows (E4002).
const SYMBOLS: [&str; 4] = ["EURUSD", "USDJPY", "EURGBP", "NOTAPAIR"];
/// Most rows decoded (keeps one run fast).
const MAX_ROWS: usize = 2048;
const HEADER: usize = 24;
/// 2024-01-01 00:00 UTC in µs: the first open time without `FLAG_RAW_START`.
const T0: i64 = 1_704_067_200_000_000;

const FLAG_CROSSED_OK: u8 = 1;
const FLAG_FIXED_LOTS: u8 = 2;
const FLAG_NEXT_OPEN: u8 = 4;
const FLAG_NY_ANCHOR: u8 = 8;
const FLAG_COSTS: u8 = 16;
const FLAG_KEEP_OPEN: u8 = 32;
const FLAG_SHORT_FIRST: u8 = 64;
const FLAG_RAW_START: u8 = 128;

const ROW_RAW_GAP: u8 = 1;
const ROW_RAW_PRICE: u8 = 2;
const ROW_CROSSED: u8 = 4;
const ROW_RAW_MID: u8 = 8;

/// Little-endian reader that yields zeros past the end.
struct Bytes<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Bytes<'a> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for (i, b) in out.iter_mut().enumerate() {
            *b = self.data.get(self.at + i).copied().unwrap_or(0);
        }
        self.at = self.at.saturating_add(N);
        out
    }

    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }

    fn i64(&mut self) -> i64 {
        i64::from_le_bytes(self.take())
    }

    fn f64(&mut self) -> f64 {
        f64::from_le_bytes(self.take())
    }

    fn done(&self) -> bool {
        self.at >= self.data.len()
    }
}

/// The run settings the header chooses.
struct Header {
    timeframe: Timeframe,
    flags: u8,
    every: usize,
    hold: usize,
    symbol: &'static str,
    key: IndicatorKey,
    start: i64,
}

fn header(h: &[u8; HEADER]) -> Header {
    let tf = |b: u8| Timeframe::ALL[usize::from(b) % Timeframe::ALL.len()];
    let u16_at = |i: usize| f64::from(u16::from_le_bytes([h[i], h[i + 1]]));
    let mut params = [0.0; KEY_PARAMS];
    params[0] = u16_at(8);
    params[1] = u16_at(10) / 100.0;
    let key = IndicatorKey {
        kind: u32::from(h[5]) % 24,
        side: u32::from(h[6]) % 4,
        // 0 is the primary timeframe; a timeframe's minutes name a higher one (or the primary's own).
        timeframe: if h[7] == 0 { 0 } else { tf(h[7]).minutes() },
        reserved: 0,
        params,
    };
    let mut start = [0u8; 8];
    start.copy_from_slice(&h[12..20]);
    Header {
        timeframe: tf(h[0]),
        flags: h[1],
        every: 1 + usize::from(h[2]) % 16,
        hold: usize::from(h[3]) % 32,
        symbol: SYMBOLS[usize::from(h[4]) % SYMBOLS.len()],
        key,
        start: if h[1] & FLAG_RAW_START != 0 { i64::from_le_bytes(start) } else { T0 },
    }
}

/// Decode the rows: timestamps and the ten price columns in `PRICE_COLUMNS` order.
fn rows(bytes: &mut Bytes<'_>, h: &Header) -> (Vec<i64>, [Vec<f64>; 10]) {
    let bar = h.timeframe.duration_us();
    let mut ts = Vec::new();
    let mut cols: [Vec<f64>; 10] = Default::default();
    let mut t = h.start;
    let mut mid = 1.1_f64;
    while !bytes.done() && ts.len() < MAX_ROWS {
        let [ctl, gap, m0, m1, o, c, up, down, vol, spread] = bytes.take::<10>();
        let raw_gap = (ctl & ROW_RAW_GAP != 0).then(|| bytes.i64());
        let raw_price = (ctl & ROW_RAW_PRICE != 0).then(|| (usize::from(bytes.u8()) % 10, bytes.f64()));
        let raw_mid = (ctl & ROW_RAW_MID != 0).then(|| bytes.f64());
        if !ts.is_empty() {
            t = t.wrapping_add(raw_gap.unwrap_or((1 + i64::from(gap)) * bar));
        }
        let tick = (mid.abs() * 1e-5).max(1e-5);
        mid = raw_mid.unwrap_or(mid + f64::from(i16::from_le_bytes([m0, m1])) * tick);
        let open = mid + f64::from(o as i8) * tick;
        let close = mid + f64::from(c as i8) * tick;
        let high = open.max(close) + f64::from(up) * tick;
        let low = open.min(close) - f64::from(down) * tick;
        let s = f64::from(spread) * tick * if ctl & ROW_CROSSED != 0 { -1.0 } else { 1.0 };
        let mut row = [open, high, low, close, f64::from(vol), open + s, high + s, low + s, close + s, f64::from(vol)];
        if let Some((col, v)) = raw_price {
            row[col] = v;
        }
        ts.push(t);
        for (col, v) in cols.iter_mut().zip(row) {
            col.push(v);
        }
    }
    (ts, cols)
}

/// Trades every `every` bars at the close of the signal bar (ask for longs, bid for shorts),
/// alternating direction, with stop and target one bar's range away; closes after `hold` bars.
struct Pulse {
    timeframe: Timeframe,
    every: usize,
    hold: usize,
    short_first: bool,
}

impl RustStrategy for Pulse {
    fn evaluate(&self, s: &DataSlice<'_>, _cache: &IndicatorCache<'_>) -> Option<TradeSignal> {
        if s.index % self.every != 0 {
            return None;
        }
        let short = (s.index / self.every % 2 == 0) == self.short_first;
        let range = (s.bid.high - s.bid.low).max(s.bid.close.abs() * 1e-4);
        let (direction, entry, sign) =
            if short { (Direction::Short, s.bid.close, -1.0) } else { (Direction::Long, s.ask.close, 1.0) };
        let tags = vec!["pulse".to_string()];
        Some(TradeSignal::new(
            direction,
            entry,
            entry - sign * range,
            Some(entry + sign * 2.0 * range),
            "pulse".into(),
            tags,
            None,
            None,
        ))
    }

    fn manage_position(&self, p: &Position, _s: &DataSlice<'_>) -> PositionAction {
        if self.hold > 0 && p.bars_held >= self.hold {
            PositionAction::Close { reason: "hold".into() }
        } else {
            PositionAction::Hold
        }
    }

    fn primary_timeframe(&self) -> Timeframe {
        self.timeframe
    }

    fn name(&self) -> &str {
        "pulse"
    }
}

/// What the engine may answer on valid candles: anything coded except a caught panic (E4008) or
/// an internal error (E4009).
const RUN_CODES: [&str; 5] = ["E4002", "E4003", "E4004", "E4005", "E4006"];

/// How far an input got: the code it was refused with at validation, or the run's counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Refused(&'static str),
    Ran { bars: usize, trades: usize, signals: usize },
}

/// The `candles` fuzz target (see the module docs).
pub fn candles(data: &[u8]) {
    outcome(data);
}

/// The `candles` target, saying how far `data` got (the corpus test checks its seeds with it).
pub fn outcome(data: &[u8]) -> Outcome {
    let mut bytes = Bytes { data, at: 0 };
    let h = header(&bytes.take::<HEADER>());
    let (ts, cols) = rows(&mut bytes, &h);
    let crossed_ok = h.flags & FLAG_CROSSED_OK != 0;
    let market = match MarketData::from_vecs(h.symbol, h.timeframe, ts, cols, crossed_ok) {
        Ok(m) => m,
        Err(e) => {
            expect_code(&e, &["E4004"], "candle validation");
            return Outcome::Refused(e.code());
        }
    };
    let mut cfg = StrategyConfig::new(h.symbol, h.timeframe.as_str());
    let e = &mut cfg.engine;
    e.allow_crossed_quotes = crossed_ok;
    if h.flags & FLAG_FIXED_LOTS != 0 {
        e.sizing = SizingMode::Fixed;
    }
    if h.flags & FLAG_NEXT_OPEN != 0 {
        e.fill = FillModel::NextOpen;
    }
    if h.flags & FLAG_NY_ANCHOR != 0 {
        e.htf_anchor = HtfAnchor::NewYork1700;
    }
    if h.flags & FLAG_COSTS != 0 {
        e.costs.commission_per_lot = 3.5;
        e.costs.slippage_fixed_pips = 0.2;
        e.costs.slippage_random_pips = 0.5;
    }
    e.close_at_end = h.flags & FLAG_KEEP_OPEN == 0;
    if let Err(e) = cfg.validate() {
        panic!("the target built an invalid config: {e}");
    }
    let host = MarketHost::new(market, cfg.engine.htf_anchor);
    for tf in Timeframe::ALL.into_iter().filter(|tf| tf.minutes() > h.timeframe.minutes()) {
        if let Err(e) = host.htf(tf) {
            expect_code(&e, &["E4003", "E4004"], "higher timeframe");
        }
    }
    let cache = IndicatorCache::new(&host).unwrap_or_else(|e| panic!("no cache over a valid market: {e}"));
    match cache.series(&h.key) {
        Ok(s) => {
            if h.key.timeframe == 0 {
                assert_eq!(s.len(), host.market().len(), "a primary-timeframe series has one value per bar");
            }
        }
        Err(e) => expect_code(&e, &["E4003", "E4004"], "indicator series"),
    }
    let strategy =
        Pulse { timeframe: h.timeframe, every: h.every, hold: h.hold, short_first: h.flags & FLAG_SHORT_FIRST != 0 };
    let bars = host.market().len();
    let trades = match run_backtest(&strategy, &cache, host.market(), &cfg) {
        Ok(r) => {
            assert_eq!(r.equity_curve.len(), bars, "one equity point per bar");
            assert_eq!(r.bars_processed, bars);
            r.trades.len()
        }
        Err(e) => {
            expect_code(&e, &RUN_CODES, "backtest");
            return Outcome::Refused(e.code());
        }
    };
    let signals = match scan_signals(&strategy, &cache, host.market(), &cfg) {
        Ok(rows) => rows.len(),
        Err(e) => {
            expect_code(&e, &RUN_CODES, "scan");
            return Outcome::Refused(e.code());
        }
    };
    Outcome::Ran { bars, trades, signals }
}
