//! The real plugin boundary: builds the test-plugin cdylib (`tests/test-plugin`) as a separate
//! artifact with Cargo, `dlopen`s it, takes `omega_strategy_plugin_v1`, validates the table with
//! `PluginHandle::from_raw` and runs it through `ForeignStrategy` over a `MarketHost`. The same
//! strategy source is compiled into this test binary (`#[path]` module) to compare against
//! in-process calls. `unsafe` here is limited to loading the library and trusting its table.

use std::ffi::c_void;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use omega_core::config::HtfAnchor;
use omega_core::engine::{run_backtest, EngineResult};
use omega_core::indicators::MarketHost;
use omega_core::market::MarketData;
use omega_core::plugin::abi::EvaluateFn;
use omega_core::plugin::{
    ErrorOut, ForeignStrategy, PluginHandle, PluginTable, SignalOut, ABI_MAJOR, ABI_MINOR, ENTRY_SYMBOL,
    PLUGIN_TABLE_MIN_SIZE, PLUGIN_TABLE_SIZE,
};
use omega_core::{
    Capabilities, Direction, IndicatorCache, Position, PositionAction, RustStrategy, StrategyConfig, StrategyError,
    Timeframe, TradeSignal,
};

/// The test strategy's source, compiled in-process for the comparisons.
#[path = "../../../../tests/test-plugin/src/strategy.rs"]
#[allow(dead_code)]
mod test_strategy;

use test_strategy::{SmaCross, STRATEGY_NAME, STRATEGY_VERSION};

const PROVIDER: &str = "omega-test-plugin";

/// This test's Cargo profile (from its output dir) and target dir.
fn own_profile() -> (String, PathBuf) {
    let exe = std::env::current_exe().expect("test executable path");
    // <target>/<profile>/deps/plugin_abi-<hash>
    let profile_dir = exe.parent().and_then(|d| d.parent()).expect("profile dir").to_path_buf();
    let target_dir = profile_dir.parent().expect("target dir").to_path_buf();
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev".to_string(),
        Some(other) => other.to_string(),
    };
    (profile, target_dir)
}

/// Build the plugin cdylib in this test's target dir and profile; return its path.
fn build_plugin() -> PathBuf {
    let (profile, _) = own_profile();
    build_plugin_in(&profile)
}

/// Build the plugin cdylib in this test's target dir with Cargo profile `profile`; return its path.
fn build_plugin_in(profile: &str) -> PathBuf {
    let (_, target_dir) = own_profile();
    let profile_dir = target_dir.join(if profile == "dev" { "debug" } else { profile });
    let cargo = std::env::var("CARGO").ok().or(option_env!("CARGO").map(String::from)).unwrap_or("cargo".into());
    // Without the `python` feature: the cdylib then loads in a process without a Python runtime.
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", "omega-test-plugin", "--lib", "--no-default-features", "--profile", profile])
        .env("CARGO_TARGET_DIR", &target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run cargo build for the test plugin");
    assert!(status.success(), "building omega-test-plugin failed: {status}");
    let lib =
        profile_dir.join(format!("{}omega_test_plugin{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX));
    assert!(lib.exists(), "{} not built", lib.display());
    lib
}

/// The loaded, validated plugin (built and loaded once per test process).
fn plugin() -> &'static Arc<PluginHandle> {
    static PLUGIN: OnceLock<Arc<PluginHandle>> = OnceLock::new();
    PLUGIN.get_or_init(|| load(&build_plugin(), "own"))
}

/// `dlopen` a built plugin library and validate its table. The library is copied to a private path
/// first so that a concurrent build cannot replace the file while it is mapped.
fn load(built: &std::path::Path, tag: &str) -> Arc<PluginHandle> {
    let private = std::env::temp_dir().join(format!(
        "omega-plugin-abi-{}-{tag}{}",
        std::process::id(),
        std::env::consts::DLL_SUFFIX
    ));
    std::fs::copy(built, &private).expect("copy the plugin library");
    // SAFETY: loading runs the library's initialisers; the test plugin is our own Rust cdylib
    // with no global constructors beyond Rust's runtime.
    let lib = unsafe { libloading::Library::new(&private) }.expect("dlopen the test plugin");
    let _ = std::fs::remove_file(&private);
    // SAFETY: the symbol is the one `export_strategy!` generates, with exactly this signature.
    let table = unsafe {
        let entry: libloading::Symbol<'_, extern "C" fn() -> *const PluginTable> =
            lib.get(ENTRY_SYMBOL.as_bytes()).expect("omega_strategy_plugin_v1 exported");
        entry()
    };
    // SAFETY: the table is static in the library, which the handle keeps loaded (`with_owner`).
    let handle = unsafe { PluginHandle::from_raw(table, PROVIDER) }.expect("valid plugin table");
    Arc::new(handle.with_owner(Box::new(lib)))
}

/// A copy of the plugin's static table, to tamper with.
fn table_copy() -> PluginTable {
    *plugin().table()
}

/// Seeded random-walk M1 bars with a 1-pip spread.
fn market(n: usize, seed: u64) -> MarketData {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let ts: Vec<i64> = (0..n as i64).map(|i| 1_700_000_000_000_000 + i * 60_000_000).collect();
    let mut close = 1.1;
    let mut cols: [Vec<f64>; 10] = Default::default();
    for _ in 0..n {
        let open = close;
        close = open + (next() - 0.5) * 0.0008;
        let high = open.max(close) + next() * 0.0003;
        let low = open.min(close) - next() * 0.0003;
        for (c, v) in [open, high, low, close, 1.0 + next()].into_iter().enumerate() {
            cols[c].push(v);
            cols[c + 5].push(if c == 4 { v } else { v + 0.0001 });
        }
    }
    MarketData::from_vecs("EURUSD", Timeframe::M1, ts, cols, false).expect("valid generated market")
}

fn config(params: serde_json::Value) -> StrategyConfig {
    let mut c = StrategyConfig::new("EURUSD", "M1");
    c.params = params.as_object().cloned().unwrap_or_default();
    c
}

/// The same strategy, in-process: Default → on_init → prepare.
fn in_process(cfg: &StrategyConfig, cache: &IndicatorCache<'_>) -> SmaCross {
    let mut s = SmaCross::default();
    s.on_init(cfg).expect("on_init");
    s.prepare(cache).expect("prepare");
    s
}

fn every_signal(s: &dyn RustStrategy, host: &MarketHost, cache: &IndicatorCache<'_>) -> Vec<(usize, TradeSignal)> {
    let m = host.market();
    (0..m.len())
        .filter_map(|i| {
            let sig = s.evaluate(&m.slice(i), cache);
            assert!(s.take_error().is_none(), "no error at bar {i}");
            sig.map(|x| (i, x))
        })
        .collect()
}

/// Bit-identical engine results (NaN metrics compare equal to NaN).
fn assert_same_result(a: &EngineResult, b: &EngineResult) {
    assert!(a.trades == b.trades, "trades through the ABI differ from in-process");
    assert!(a.open_positions == b.open_positions);
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert!(bits(&a.equity_curve) == bits(&b.equity_curve), "equity curves differ");
    let metric_bits = |r: &EngineResult| r.metrics.iter().map(|(k, v)| (k.clone(), v.to_bits())).collect::<Vec<_>>();
    assert_eq!(metric_bits(a), metric_bits(b));
    assert_eq!(a.bars_processed, b.bars_processed);
}

#[test]
fn the_loaded_table_declares_the_strategy() {
    let h = plugin();
    assert_eq!(h.name(), STRATEGY_NAME);
    assert_eq!(h.version(), STRATEGY_VERSION);
    assert_eq!(h.core_version(), omega_core::CORE_VERSION);
    assert_eq!(h.provider(), PROVIDER);
    assert_eq!(h.abi_minor(), ABI_MINOR);
    assert_eq!(h.table().abi_major, ABI_MAJOR);
    assert_eq!(h.panic_unwind(), Some(true), "the workspace builds with panic = \"unwind\"");
    assert!(h.table().capabilities.is_some() && h.table().next_candidate.is_some());
}

#[test]
fn signals_and_backtest_identical_to_in_process() {
    let m = market(6000, 11);
    let host = MarketHost::new(m, HtfAnchor::Utc);
    let cache = IndicatorCache::new(&host).unwrap();
    for params in
        [serde_json::json!({"fast": 5, "slow": 20}), serde_json::json!({"fast": 3, "slow": 8, "atr_length": 5})]
    {
        let cfg = config(params);
        let foreign = ForeignStrategy::create(plugin(), &cfg, &host).unwrap();
        assert_eq!(foreign.name(), STRATEGY_NAME);
        assert_eq!(foreign.version(), STRATEGY_VERSION);
        assert_eq!(foreign.primary_timeframe(), Timeframe::M1);
        let local = in_process(&cfg, &cache);

        let via_abi = every_signal(&foreign, &host, &cache);
        let direct = every_signal(&local, &host, &cache);
        assert!(via_abi.len() > 20, "the market produces crosses ({})", via_abi.len());
        assert!(
            via_abi.iter().any(|(_, s)| s.direction() == "long")
                && via_abi.iter().any(|(_, s)| s.direction() == "short")
        );
        assert!(via_abi == direct, "signals through the ABI differ from in-process");

        // manage_position: the same actions for the same positions, including the owned close reason.
        for held in [0, 59, 60, 61] {
            let p = Position {
                id: 1,
                symbol: "EURUSD".into(),
                direction: Direction::Short,
                entry_price: 1.1,
                entry_time_us: 0,
                stop_loss: 1.2,
                take_profit: Some(1.0),
                lot_size: 0.5,
                pnl_pips: 1.0,
                pnl_usd: 5.0,
                bars_held: held,
                entry_index: 10,
            };
            let slice = host.market().slice(10 + held);
            let a = foreign.manage_position(&p, &slice);
            assert_eq!(a, local.manage_position(&p, &slice));
            assert_eq!(a == PositionAction::Close { reason: "timeout".into() }, held >= 60);
        }

        // A whole backtest through the engine: one code path, identical results.
        let via_engine = run_backtest(&foreign, &cache, host.market(), &cfg).unwrap();
        let direct_engine = run_backtest(&local, &cache, host.market(), &cfg).unwrap();
        assert!(!via_engine.trades.is_empty());
        assert_same_result(&via_engine, &direct_engine);
        foreign.close().unwrap();
    }
}

#[test]
fn a_panic_becomes_e4008_and_the_process_lives_on() {
    let host = MarketHost::new(market(300, 5), HtfAnchor::Utc);
    let cache = IndicatorCache::new(&host).unwrap();
    let cfg = config(serde_json::json!({"fast": 3, "slow": 8, "panic_at_bar": 120}));
    let foreign = ForeignStrategy::create(plugin(), &cfg, &host).unwrap();
    for i in 0..120 {
        let _ = foreign.evaluate(&host.market().slice(i), &cache);
        assert!(foreign.take_error().is_none(), "bar {i}");
    }
    assert!(foreign.evaluate(&host.market().slice(120), &cache).is_none());
    let e = foreign.take_error().expect("the panic is reported");
    assert_eq!(e.code(), "E4008");
    assert_eq!(
        e,
        StrategyError::StrategyPanicked {
            strategy: STRATEGY_NAME.to_string(),
            message: "panic_at_bar reached at bar 120".to_string()
        }
    );
    drop(foreign);

    // Through the engine, the run stops with the same error.
    let foreign = ForeignStrategy::create(plugin(), &cfg, &host).unwrap();
    let e = run_backtest(&foreign, &cache, host.market(), &cfg).unwrap_err();
    assert_eq!(e.code(), "E4008");
    assert!(e.to_string().contains("panic_at_bar reached at bar 120"), "{e}");
    assert!(e.to_string().contains(STRATEGY_NAME), "{e}");
    drop(foreign);

    // The plugin is still usable afterwards.
    let ok = ForeignStrategy::create(plugin(), &config(serde_json::json!({"fast": 3, "slow": 8})), &host).unwrap();
    assert!(run_backtest(&ok, &cache, host.market(), &cfg).is_ok());
}

#[test]
fn fail_init_is_e4002() {
    let host = MarketHost::new(market(100, 2), HtfAnchor::Utc);
    let e = ForeignStrategy::create(plugin(), &config(serde_json::json!({"fail_init": true})), &host).err().unwrap();
    assert_eq!(e.code(), "E4002");
    assert_eq!(e, StrategyError::param("fail_init", "fail_init is set: refusing to initialise"));
    let e = ForeignStrategy::create(plugin(), &config(serde_json::json!({"fast": 0})), &host).err().unwrap();
    assert_eq!(e.code(), "E4002");
    assert!(e.to_string().contains("'fast'"), "{e}");
}

#[test]
fn tampered_tables_are_refused_with_every_problem_at_once() {
    let mut t = table_copy();
    t.struct_size = 100; // too small: primary_timeframe, name and version fall outside
    t.evaluate = None;
    // SAFETY: `t` is a live local table of full size (it claims less).
    let e = unsafe { PluginHandle::from_raw(&t, PROVIDER) }.unwrap_err();
    assert_eq!(e.code(), "E4007");
    let msg = e.to_string();
    for needle in [
        "'omega-test-plugin'",
        &format!("ABI {ABI_MAJOR}.{ABI_MINOR}"),
        &format!("omega-core {}", omega_core::CORE_VERSION),
        "struct_size 100 < 120 required",
        "slot 'evaluate' is null",
        "slot 'primary_timeframe' missing",
        "slot 'name' missing",
        "slot 'version' missing",
    ] {
        assert!(msg.contains(needle), "{needle:?} missing from: {msg}");
    }
    assert_eq!(msg.matches("incompatible strategy plugin").count(), 1, "one error: {msg}");

    // Each problem alone is enough.
    let mut small = table_copy();
    small.struct_size = 64;
    let mut null = table_copy();
    null.manage_position = None;
    for (bad, needle) in [(small, "struct_size 64 < 120"), (null, "slot 'manage_position' is null")] {
        // SAFETY: as above.
        let e = unsafe { PluginHandle::from_raw(&bad, PROVIDER) }.unwrap_err();
        assert_eq!(e.code(), "E4007");
        assert!(e.to_string().contains(needle), "{needle:?} missing from: {e}");
    }
    // The untampered copy passes.
    let good = table_copy();
    // SAFETY: as above; the copy's functions and strings live in the loaded library.
    assert!(unsafe { PluginHandle::from_raw(&good, PROVIDER) }.is_ok());
}

#[test]
fn a_major_mismatch_is_one_e4007_without_slot_probing() {
    for major in [0, 2, u32::MAX] {
        let mut t = table_copy();
        t.abi_major = major;
        t.struct_size = 8; // nonsense that must not be looked at either
        t.evaluate = None;
        // SAFETY: `t` is live; only its header may be read.
        let e = unsafe { PluginHandle::from_raw(&t, PROVIDER) }.unwrap_err();
        assert_eq!(e.code(), "E4007");
        let msg = e.to_string();
        assert!(msg.contains(&format!("ABI major {major} != {ABI_MAJOR} required")), "{msg}");
        assert!(msg.contains("'omega-test-plugin'") && msg.contains("Rebuild"), "{msg}");
        assert!(!msg.contains("slot") && !msg.contains("struct_size"), "no probing: {msg}");
        assert_eq!(msg.matches("incompatible strategy plugin").count(), 1, "one error: {msg}");
    }
}

/// Counts the calls of the loaded plugin's `evaluate` made through [`counting_evaluate`].
static EVALUATE_CALLS: AtomicUsize = AtomicUsize::new(0);
static REAL_EVALUATE: OnceLock<EvaluateFn> = OnceLock::new();

unsafe extern "C" fn counting_evaluate(
    handle: *mut c_void,
    bar_index: u64,
    out: *mut SignalOut,
    err: *mut ErrorOut,
) -> u32 {
    EVALUATE_CALLS.fetch_add(1, Ordering::Relaxed);
    let real = REAL_EVALUATE.get().expect("set before the table is used");
    // SAFETY: forwarded unchanged to the plugin's own `evaluate`.
    unsafe { real(handle, bar_index, out, err) }
}

/// The loaded table with `evaluate` counted, declared as ABI 1.`minor` of `struct_size` bytes.
fn counted_table(minor: u32, struct_size: usize) -> PluginTable {
    let mut t = table_copy();
    REAL_EVALUATE.get_or_init(|| t.evaluate.expect("evaluate slot"));
    t.evaluate = Some(counting_evaluate);
    t.abi_minor = minor;
    t.struct_size = struct_size as u32;
    t
}

/// A backtest of `handle` over `host`; returns the result and how many `evaluate` calls crossed.
fn counted_run(handle: PluginHandle, host: &MarketHost, cfg: &StrategyConfig) -> (EngineResult, usize) {
    let cache = IndicatorCache::new(host).unwrap();
    let s = ForeignStrategy::create(&Arc::new(handle), cfg, host).unwrap();
    let before = EVALUATE_CALLS.load(Ordering::Relaxed);
    let r = run_backtest(&s, &cache, host.market(), cfg).unwrap();
    let calls = EVALUATE_CALLS.load(Ordering::Relaxed) - before;
    s.close().unwrap();
    (r, calls)
}

#[test]
fn minor_versions_old_and_new_load_and_run_with_the_same_trades() {
    let host = MarketHost::new(market(20_000, 17), HtfAnchor::Utc);
    let cfg = config(serde_json::json!({"fast": 5, "slow": 20}));
    let cache = IndicatorCache::new(&host).unwrap();
    let expected = run_backtest(&in_process(&cfg, &cache), &cache, host.market(), &cfg).unwrap();
    assert!(expected.trades.len() > 50, "the market trades ({})", expected.trades.len());

    // v1.0: 120 bytes, no capabilities, no next_candidate. The bytes after it (our copy's v1.1
    // fields) are not read: the core falls back to calling `evaluate` on every bar the gate allows.
    let t10 = counted_table(0, PLUGIN_TABLE_MIN_SIZE);
    // SAFETY: `t10` is live; its functions live in the loaded library (kept by `plugin()`).
    let h10 = unsafe { PluginHandle::from_raw(&t10, PROVIDER) }.unwrap();
    assert!(h10.table().next_candidate.is_none() && h10.table().capabilities.is_none());
    let s10 = ForeignStrategy::create(&Arc::new(h10), &cfg, &host).unwrap();
    assert_eq!(s10.capabilities(), Capabilities::EVERY_BAR);
    drop(s10);
    // SAFETY: as above.
    let (r10, calls10) = counted_run(unsafe { PluginHandle::from_raw(&t10, PROVIDER) }.unwrap(), &host, &cfg);

    // v1.1 (this core's minor): the engine asks next_candidate and evaluates only crossing bars.
    let t11 = counted_table(1, PLUGIN_TABLE_SIZE);
    // SAFETY: as above.
    let (r11, calls11) = counted_run(unsafe { PluginHandle::from_raw(&t11, PROVIDER) }.unwrap(), &host, &cfg);

    // v1.9 from a newer core: larger, with unknown trailing slots (never read, never called).
    #[repr(C)]
    struct Newer {
        base: PluginTable,
        unknown: [usize; 4],
    }
    let newer = Newer { base: counted_table(9, std::mem::size_of::<Newer>()), unknown: [0xdead_beef; 4] };
    // SAFETY: `newer` is live and `struct_size` bytes long.
    let (r19, calls19) = counted_run(unsafe { PluginHandle::from_raw(&newer.base, PROVIDER) }.unwrap(), &host, &cfg);

    for r in [&r10, &r11, &r19] {
        assert_same_result(r, &expected);
    }
    assert!(calls10 > 5_000, "v1.0 is evaluated on every bar the gate allows ({calls10} calls)");
    assert!(calls10 > 10 * calls11, "v1.1 skips the bars between candidates ({calls11} vs {calls10})");
    assert_eq!(calls11, calls19);
    assert!(calls11 as u64 <= expected.metrics["signals"] as u64 + 1, "only candidate bars: {calls11}");
    println!("evaluate calls over 20k bars: v1.0 {calls10}, v1.1 {calls11}");
}

#[test]
fn a_plugin_built_in_another_profile_loads_and_runs_the_same() {
    // The wheels are release builds; a strategy author's plugin may be a dev build (and the other
    // way round). Build the plugin in the profile this test was not built in and compare.
    let (own, _) = own_profile();
    let other = if own == "release" { "dev" } else { "release" };
    let handle = load(&build_plugin_in(other), other);
    let host = MarketHost::new(market(5000, 23), HtfAnchor::Utc);
    let cfg = config(serde_json::json!({"fast": 4, "slow": 15}));
    let cache = IndicatorCache::new(&host).unwrap();
    let foreign = ForeignStrategy::create(&handle, &cfg, &host).unwrap();
    let via_other = run_backtest(&foreign, &cache, host.market(), &cfg).unwrap();
    let direct = run_backtest(&in_process(&cfg, &cache), &cache, host.market(), &cfg).unwrap();
    assert!(!direct.trades.is_empty());
    assert_same_result(&via_other, &direct);
    assert_eq!(handle.panic_unwind(), Some(true));
    foreign.close().unwrap();
    println!("a {other}-profile plugin ran in a {own}-profile core");
}

#[test]
fn separate_handles_run_concurrently() {
    let host = MarketHost::new(market(3000, 9), HtfAnchor::Utc);
    let cfg = config(serde_json::json!({"fast": 4, "slow": 12}));
    let cache = IndicatorCache::new(&host).unwrap();
    let expected = every_signal(&in_process(&cfg, &cache), &host, &cache);
    std::thread::scope(|scope| {
        let runs: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    let cache = IndicatorCache::new(&host).unwrap();
                    let s = ForeignStrategy::create(plugin(), &cfg, &host).unwrap();
                    every_signal(&s, &host, &cache)
                })
            })
            .collect();
        for r in runs {
            assert!(r.join().unwrap() == expected, "a concurrent run differs");
        }
    });
}

#[test]
fn per_call_overhead_is_small() {
    // Strategy-free cost of the boundary: evaluate on bars where the strategy returns at once (bar 0
    // returns before reading anything), through the ABI vs in-process. Printed for docs/abi.md;
    // the bound only catches pathologies (allocation, locking storms), not nanoseconds.
    let host = MarketHost::new(market(2000, 4), HtfAnchor::Utc);
    let cache = IndicatorCache::new(&host).unwrap();
    let cfg = config(serde_json::json!({"fast": 4, "slow": 12}));
    let foreign = ForeignStrategy::create(plugin(), &cfg, &host).unwrap();
    let local = in_process(&cfg, &cache);
    let slice = host.market().slice(0);
    let n = 200_000;
    let time = |s: &dyn RustStrategy| {
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(s.evaluate(std::hint::black_box(&slice), &cache));
            std::hint::black_box(s.take_error());
        }
        t.elapsed().as_nanos() as f64 / n as f64
    };
    let (abi, direct) = (time(&foreign), time(&local));
    println!("evaluate through the ABI: {abi:.1} ns/call, in-process: {direct:.1} ns/call");
    assert!(abi - direct < 5_000.0, "ABI overhead {:.1} ns per call", abi - direct);
}
