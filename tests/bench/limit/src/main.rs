//! `omega-limit DIR [REPEATS]`: time the limit on the market in DIR (one raw little-endian f64 file
//! per column, `<column>.f64`, as written by tests/bench/bench_sweep.py) and print JSON: the single
//! run of the template's default rule and the 100-config hand-written sweep on 1 and 2 threads
//! (milliseconds, minimum and median of REPEATS runs), with the net profits as a check.

use std::path::Path;
use std::time::Instant;

use omega_bench_limit::{grid100, run, sweep, Account, Bars, Rule};

fn column(dir: &Path, name: &str) -> Result<Vec<f64>, String> {
    let bytes = std::fs::read(dir.join(format!("{name}.f64"))).map_err(|e| format!("{name}.f64: {e}"))?;
    if bytes.len() % 8 != 0 {
        return Err(format!("{name}.f64: {} bytes is not a whole number of f64", bytes.len()));
    }
    Ok(bytes.chunks_exact(8).map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])).collect())
}

fn timed<T>(repeats: usize, mut f: impl FnMut() -> T) -> (f64, f64, T) {
    let mut times = Vec::with_capacity(repeats);
    let mut last = None;
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        let out = f();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        last = Some(out);
    }
    times.sort_by(f64::total_cmp);
    let out = last.unwrap_or_else(|| unreachable!("at least one repeat"));
    (times[0], times[times.len() / 2], out)
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let dir = Path::new(args.get(1).ok_or("usage: omega-limit DIR [REPEATS]")?);
    let repeats: usize = args.get(2).map_or(Ok(5), |s| s.parse()).map_err(|e| format!("REPEATS: {e}"))?;
    let cols: Vec<Vec<f64>> =
        ["bid_open", "bid_high", "bid_low", "bid_close", "ask_open", "ask_high", "ask_low", "ask_close"]
            .iter()
            .map(|c| column(dir, c))
            .collect::<Result<_, _>>()?;
    let b = Bars {
        bid_open: &cols[0],
        bid_high: &cols[1],
        bid_low: &cols[2],
        bid_close: &cols[3],
        ask_open: &cols[4],
        ask_high: &cols[5],
        ask_low: &cols[6],
        ask_close: &cols[7],
    };
    let acc = Account::default();
    let single_rule = Rule {
        ema_length: 20,
        atr_length: 14,
        band_atr: 1.0,
        sl_atr: 1.5,
        tp_atr: 3.0,
        breakeven_r: Some(1.0),
        max_bars: 120,
    };
    let grid = grid100();
    let (s_min, s_med, single) = timed(repeats, || run(&b, &[single_rule], &acc));
    let (w1_min, w1_med, one) = timed(repeats, || sweep(&b, &grid, &acc, 1));
    let (w2_min, w2_med, two) = timed(repeats, || sweep(&b, &grid, &acc, 2));
    if one != two {
        return Err("the 1- and 2-thread sweeps differ".into());
    }
    let nets: Vec<String> = two.iter().map(|s| format!("{:?}", s.net_profit)).collect();
    println!(
        "{{\"bars\": {}, \"single_ms\": [{s_min:.3}, {s_med:.3}], \"single_trades\": {}, \"single_net\": {:?}, \
         \"sweep1_ms\": [{w1_min:.3}, {w1_med:.3}], \"sweep2_ms\": [{w2_min:.3}, {w2_med:.3}], \"sweep_net\": [{}]}}",
        b.len(),
        single[0].trades.len(),
        single[0].net_profit,
        nets.join(", ")
    );
    Ok(())
}
