//! Sweeps against single runs of the same configs, with an in-process strategy behind its plugin
//! table (the path plugin strategies take).

use super::*;
use crate::config::HtfAnchor;
use crate::engine::run_backtest;
use crate::indicators::{IndicatorKey, PriceSide, SeriesId};
use crate::plugin::testing;
use crate::types::{DataSlice, Direction, Position, PositionAction, Timeframe, TradeSignal};
use crate::RustStrategy;

/// A deterministic M1 market of `n` bars with enough swing for crossings.
pub(crate) fn market(n: usize) -> MarketData {
    let t0 = 1_704_067_200_000_000_i64;
    let ts: Vec<i64> = (0..n as i64).map(|k| t0 + k * 60_000_000).collect();
    let c: Vec<f64> = (0..n)
        .map(|k| {
            let x = k as f64;
            1.1 + 0.004 * (x / 97.0).sin() + 0.002 * (x / 23.0).sin() + 0.0003 * ((k * 7919 % 13) as f64 / 13.0)
        })
        .collect();
    let h: Vec<f64> = c.iter().map(|v| v + 0.0004).collect();
    let l: Vec<f64> = c.iter().map(|v| v - 0.0004).collect();
    let up = |v: &Vec<f64>| v.iter().map(|x| x + 0.0001).collect::<Vec<f64>>();
    let vol = vec![1.0; n];
    let prices = [c.clone(), h.clone(), l.clone(), c.clone(), vol.clone(), up(&c), up(&h), up(&l), up(&c), vol];
    match MarketData::from_vecs("EURUSD", Timeframe::M1, ts, prices, false) {
        Ok(m) => m,
        Err(e) => panic!("test market invalid: {e}"),
    }
}

/// EMA(fast) / EMA(slow) cross with an ATR stop, closing after `hold` bars.
#[derive(Default)]
struct Cross {
    fast: usize,
    slow: usize,
    hold: usize,
    ids: Option<[SeriesId; 3]>,
}

impl RustStrategy for Cross {
    fn evaluate(&self, slice: &DataSlice<'_>, cache: &IndicatorCache<'_>) -> Option<TradeSignal> {
        let i = slice.index;
        let [f, s, a] = self.ids?;
        let (f, s, a) = (cache.get(f)?, cache.get(s)?, cache.get(a)?);
        if i == 0 || !(f[i - 1] - s[i - 1]).is_finite() || !a[i].is_finite() {
            return None;
        }
        let (before, now) = (f[i - 1] - s[i - 1], f[i] - s[i]);
        let d = if before <= 0.0 && now > 0.0 {
            Direction::Long
        } else if before >= 0.0 && now < 0.0 {
            Direction::Short
        } else {
            return None;
        };
        let entry = if d == Direction::Long { slice.ask.close } else { slice.bid.close };
        let sl = entry - d.sign() * 2.0 * a[i];
        Some(TradeSignal::new(d, entry, sl, None, "cross".into(), vec![], Some(1), None))
    }

    fn manage_position(&self, position: &Position, _slice: &DataSlice<'_>) -> PositionAction {
        if position.bars_held >= self.hold {
            PositionAction::Close { reason: "timeout".into() }
        } else {
            PositionAction::Hold
        }
    }

    fn primary_timeframe(&self) -> Timeframe {
        Timeframe::M1
    }

    fn on_init(&mut self, config: &StrategyConfig) -> Result<()> {
        let get = |k: &str, d: u64| config.params.get(k).and_then(|v| v.as_u64()).unwrap_or(d) as usize;
        (self.fast, self.slow, self.hold) = (get("fast", 10), get("slow", 30), get("hold", 50));
        if self.hold == 0 {
            return Err(StrategyError::param("hold", "must be >= 1"));
        }
        Ok(())
    }

    fn prepare(&mut self, cache: &IndicatorCache<'_>) -> Result<()> {
        self.ids = Some([
            cache.register(&IndicatorKey::ema(PriceSide::Bid, self.fast))?,
            cache.register(&IndicatorKey::ema(PriceSide::Bid, self.slow))?,
            cache.register(&IndicatorKey::atr(PriceSide::Bid, 14))?,
        ]);
        Ok(())
    }

    fn name(&self) -> &str {
        "cross"
    }
}

fn bits(m: &BTreeMap<String, f64>) -> Vec<(String, u64)> {
    m.iter().map(|(k, v)| (k.clone(), v.to_bits())).collect()
}

fn configs(grid: &[(u64, u64, u64)]) -> Vec<StrategyConfig> {
    grid.iter()
        .map(|&(fast, slow, hold)| {
            let mut c = StrategyConfig::new("EURUSD", "M1");
            c.params =
                serde_json::json!({"fast": fast, "slow": slow, "hold": hold}).as_object().cloned().unwrap_or_default();
            c
        })
        .collect()
}

fn grid() -> Vec<(u64, u64, u64)> {
    let mut g = Vec::new();
    for slow in [30, 60] {
        for fast in [5, 10, 20] {
            for hold in [20, 80] {
                g.push((fast, slow, hold));
            }
        }
    }
    g
}

#[test]
fn rows_equal_single_runs_and_series_are_computed_once() {
    let m = market(6_000);
    let host = MarketHost::new(m.clone(), HtfAnchor::Utc);
    let plugin = testing::handle::<Cross>().unwrap();
    let cfgs = configs(&grid());
    let job = PluginJob { plugin: &plugin, market: host.market(), rates: &[] };
    for threads in [1, 2, 3] {
        let control = SweepControl::default();
        let opts = SweepOptions { threads, keep_trades: true, ..SweepOptions::default() };
        let out = run_sweep(&host, &cfgs, &job, &opts, &control).unwrap();
        assert_eq!(out.outcomes.len(), cfgs.len());
        assert_eq!(control.done(), cfgs.len());
        for (c, o) in cfgs.iter().zip(&out.outcomes) {
            let single = testing::run_in_process::<Cross>(&m, c).unwrap();
            assert!(!single.trades.is_empty());
            assert_eq!(o.trades, single.trades);
            assert_eq!(bits(&o.metrics), bits(&single.metrics));
        }
        // EMA 5, 10, 20, 30, 60 and the ATR: each computed once for 12 configs
        assert_eq!(out.stats.distinct_series, 6);
        assert_eq!(out.stats.store.computations, 6);
        assert_eq!(out.stats.store.evictions, 0);
        // configs reading the same series ran back to back (fast=5, slow=30 pair first)
        assert_eq!(&out.order[..2], &[0, 1]);
    }
}

#[test]
fn a_small_budget_evicts_and_changes_nothing() {
    let m = market(4_000);
    let host = MarketHost::new(m.clone(), HtfAnchor::Utc);
    let plugin = testing::handle::<Cross>().unwrap();
    let cfgs = configs(&grid());
    let job = PluginJob { plugin: &plugin, market: host.market(), rates: &[] };
    let free = run_sweep(&host, &cfgs, &job, &SweepOptions::default(), &SweepControl::default()).unwrap();
    let opts = SweepOptions { threads: 2, cache_bytes: 3 * 4_000 * 8, keep_trades: false };
    let tight = run_sweep(&host, &cfgs, &job, &opts, &SweepControl::default()).unwrap();
    assert!(tight.stats.store.evictions > 0);
    // named series are never recomputed, only dropped once no pending config names them
    assert_eq!(tight.stats.store.computations, 6);
    assert_eq!(tight.outcomes.len(), free.outcomes.len());
    for (a, b) in tight.outcomes.iter().zip(&free.outcomes) {
        assert_eq!(bits(&a.metrics), bits(&b.metrics));
    }
}

#[test]
fn a_bad_config_fails_before_anything_runs() {
    let host = MarketHost::new(market(500), HtfAnchor::Utc);
    let plugin = testing::handle::<Cross>().unwrap();
    let cfgs = configs(&[(5, 30, 10), (5, 30, 0), (10, 30, 10)]);
    let job = PluginJob { plugin: &plugin, market: host.market(), rates: &[] };
    let control = SweepControl::default();
    match run_sweep(&host, &cfgs, &job, &SweepOptions::default(), &control) {
        Err(SweepError::Config { index, source }) => {
            assert_eq!(index, 1);
            assert_eq!(source.code(), "E4002");
        }
        other => panic!("expected a config error, got {other:?}"),
    }
    assert_eq!(control.done(), 0);
}

#[test]
fn cancelled_sweeps_stop() {
    let host = MarketHost::new(market(500), HtfAnchor::Utc);
    let plugin = testing::handle::<Cross>().unwrap();
    let cfgs = configs(&grid());
    let job = PluginJob { plugin: &plugin, market: host.market(), rates: &[] };
    let control = SweepControl::default();
    control.cancel();
    assert!(matches!(run_sweep(&host, &cfgs, &job, &SweepOptions::default(), &control), Err(SweepError::Cancelled)));
    assert_eq!(control.done(), 0);
}

/// An interrupt check that answers true from its `after`-th call on, counting its calls.
fn interrupt_after(after: usize) -> (std::rc::Rc<std::cell::Cell<usize>>, impl Fn() -> bool + 'static) {
    let calls = std::rc::Rc::new(std::cell::Cell::new(0_usize));
    let seen = std::rc::Rc::clone(&calls);
    (calls, move || {
        seen.set(seen.get() + 1);
        seen.get() >= after
    })
}

#[test]
fn an_interrupt_stops_a_backtest_and_a_scan_mid_run() {
    let host = MarketHost::new(market(20_000), HtfAnchor::Utc);
    let plugin = testing::handle::<Cross>().unwrap();
    let cfg = &configs(&[(10, 30, 50)])[0];
    let strategy = ForeignStrategy::create(&plugin, cfg, &host).unwrap();
    let cache = IndicatorCache::new(&host).unwrap();
    // checks at bars 0, 1024, 2048, …: the third one stops the run at bar 2048 of 20,000
    let (calls, check) = interrupt_after(3);
    let e = crate::interrupt::scope(check, || run_backtest(&strategy, &cache, host.market(), cfg)).unwrap_err();
    assert_eq!(e, StrategyError::Interrupted);
    assert_eq!(calls.get(), 3);
    let (calls, check) = interrupt_after(2);
    let e = crate::interrupt::scope(check, || crate::engine::scan_signals(&strategy, &cache, host.market(), cfg));
    assert_eq!(e.unwrap_err().code(), "E4010");
    assert_eq!(calls.get(), 2);
    // the same strategy instance runs to the end once the check is gone
    let whole = run_backtest(&strategy, &cache, host.market(), cfg).unwrap();
    assert_eq!(whole.bars_processed, 20_000);
    strategy.close().unwrap();
}

#[test]
fn an_interrupt_during_prepare_comes_back_through_the_plugin_table() {
    // the plugin's `prepare` asks the host for its series; the host callback refuses with E4010,
    // the plugin returns that error through the ABI, and the host sees E4010 again
    let host = MarketHost::new(market(2_000), HtfAnchor::Utc);
    let plugin = testing::handle::<Cross>().unwrap();
    let cfg = &configs(&[(10, 30, 50)])[0];
    let created = crate::interrupt::scope(|| true, || ForeignStrategy::create(&plugin, cfg, &host).map(|_| ()));
    assert_eq!(created.unwrap_err(), StrategyError::Interrupted);
    assert_eq!(host.computed_series(), 0, "nothing half-computed is memoised");
    assert!(ForeignStrategy::create(&plugin, cfg, &host).is_ok(), "the process stays usable");
}

/// A job that cancels its sweep as soon as a config starts, and records how the run ended.
struct CancelWhileRunning<'a> {
    inner: PluginJob<'a>,
    control: &'a SweepControl,
    runs: Mutex<Vec<std::result::Result<usize, StrategyError>>>,
}

impl SweepJob for CancelWhileRunning<'_> {
    fn probe(&self, config: &StrategyConfig, host: &dyn IndicatorHost) -> Result<()> {
        self.inner.probe(config, host)
    }

    fn run(&self, config: &StrategyConfig, host: &dyn IndicatorHost) -> Result<EngineResult> {
        self.control.cancel();
        let out = self.inner.run(config, host);
        self.runs.lock().unwrap().push(out.as_ref().map(|r| r.bars_processed).map_err(Clone::clone));
        out
    }
}

#[test]
fn cancel_stops_running_configs_mid_run() {
    let host = MarketHost::new(market(20_000), HtfAnchor::Utc);
    let plugin = testing::handle::<Cross>().unwrap();
    let cfgs = configs(&grid());
    let control = SweepControl::default();
    let job = CancelWhileRunning {
        inner: PluginJob { plugin: &plugin, market: host.market(), rates: &[] },
        control: &control,
        runs: Mutex::new(Vec::new()),
    };
    let opts = SweepOptions { threads: 2, ..SweepOptions::default() };
    let e = run_sweep(&host, &cfgs, &job, &opts, &control).unwrap_err();
    assert!(matches!(e, SweepError::Cancelled), "{e}");
    assert_eq!(control.done(), 0, "a config stopped mid-run is not done");
    let runs = job.runs.into_inner().unwrap();
    assert!(!runs.is_empty() && runs.len() <= 2, "only the configs already started ran: {runs:?}");
    assert!(runs.iter().all(|r| r == &Err(StrategyError::Interrupted)), "each stopped mid-run: {runs:?}");
    // a fresh control runs the same sweep to the end
    let done = run_sweep(&host, &cfgs, &job.inner, &opts, &SweepControl::default()).unwrap();
    assert_eq!(done.outcomes.len(), cfgs.len());
}
