//! Each scenario fires on data that triggers it, with the levels of spec §4, and does not fire
//! when its filter blocks it: HTF bias A/B (with the stale rule), the volatility-cluster guard,
//! the scenario-6 chain, the direction filter and `enabled_scenarios`.

mod common;

use common::{config, has_tag, host, levels, of_scenario, reverting_market, series, signals};
use omega_core::indicators::{IndicatorHost, IndicatorKey, MarketHost, PriceSide};
use omega_core::market::MarketData;
use omega_core::{Direction, Timeframe, TradeSignal};
use omega_strategies_zscore::scenarios::r5;
use serde_json::{json, Value};

const N: usize = 3000;

fn market() -> MarketData {
    reverting_market(Timeframe::H1, N, 11)
}

/// Relaxed thresholds so that every scenario fires on the test market; `extra` overrides.
fn params(scenarios: &[u32], extra: Value) -> Value {
    let mut p = json!({
        "enabled_scenarios": scenarios,
        "window_length": 50, "b_b_length": 20, "std_factor": 1.5, "ema_length": 20, "atr_length": 14,
        "z_score_long": -1.5, "z_score_short": 1.5, "kalman_r": 0.01, "kalman_q": 1.0,
        "tp_min_distance": 0.0, "htf_tf": "D1", "htf_ema": 5, "htf_filter": "both",
        "extra_htf_tf": "NONE", "garch_min_periods": 30, "local_z_lookback": 0,
        "intraday_vol_feature": "atr_points", "intraday_vol_cluster_window": 100,
        "intraday_vol_min_points": 20, "intraday_vol_allowed": ["low", "mid", "high"],
    });
    if let (Some(obj), Value::Object(more)) = (p.as_object_mut(), extra) {
        obj.extend(more);
    }
    p
}

fn run(h: &MarketHost, scenarios: &[u32], extra: Value) -> Vec<(usize, TradeSignal)> {
    signals(&config("H1", params(scenarios, extra)), h)
}

fn both_directions(sigs: &[(usize, TradeSignal)]) -> bool {
    sigs.iter().any(|(_, s)| s.parts().direction == Direction::Long)
        && sigs.iter().any(|(_, s)| s.parts().direction == Direction::Short)
}

/// Entry, SL and TP of a scenario 2–6 signal against the core's series (TP from `tp_key`).
fn check_levels(h: &MarketHost, sigs: &[(usize, TradeSignal)], tp_key: &IndicatorKey, atr_mult: f64) {
    let m = h.market();
    let atr = series(h, &IndicatorKey::atr(PriceSide::Bid, 14));
    let tp = series(h, tp_key);
    for (i, s) in sigs {
        let (i, p) = (*i, s.parts());
        match p.direction {
            Direction::Long => {
                assert_eq!(p.entry_price, m.ask_close[i]);
                assert_eq!(p.stop_loss, r5(m.bid_low[i] - atr_mult * atr[i]), "bar {i}");
            }
            Direction::Short => {
                assert_eq!(p.entry_price, m.bid_close[i]);
                assert_eq!(p.stop_loss, r5(m.bid_high[i] + atr_mult * atr[i]), "bar {i}");
            }
        }
        assert_eq!(p.take_profit, Some(r5(tp[i])), "bar {i}");
        let meta = p.meta.expect("scenarios 2–6 record meta");
        assert_eq!(meta["atr"], atr[i]);
        assert!(meta["z"].is_finite());
    }
}

#[test]
fn scenario1_fires_both_ways_with_its_levels() {
    let h = host(&market());
    let sigs = run(&h, &[1], json!({}));
    assert!(both_directions(&sigs), "{} signals", sigs.len());
    let m = h.market();
    let z = series(&h, &IndicatorKey::zscore_ema(PriceSide::Bid, 20, 50));
    let ema = series(&h, &IndicatorKey::ema(PriceSide::Bid, 20));
    let atr_bid = series(&h, &IndicatorKey::atr(PriceSide::Bid, 14));
    let atr_ask = series(&h, &IndicatorKey::atr(PriceSide::Ask, 14));
    for (i, s) in &sigs {
        let (i, p) = (*i, s.parts());
        assert_eq!(p.take_profit, Some(r5(ema[i])));
        assert_eq!(p.tags, ["zscore", "ema", "scenario1"]);
        match p.direction {
            Direction::Long => {
                assert!(z[i] <= -1.5);
                assert_eq!(p.stop_loss, r5(m.bid_low[i] - 2.0 * atr_bid[i]));
            }
            Direction::Short => {
                assert!(z[i] >= 1.5);
                // spec §7 #8: the short SL uses the ask ATR
                assert_eq!(p.stop_loss, r5(m.bid_high[i] + 2.0 * atr_ask[i]));
            }
        }
    }
    // Every bar whose z is beyond a threshold (and whose series are defined) signals.
    let expected = (0..N).filter(|&i| z[i].is_finite() && (z[i] >= 1.5 || z[i] <= -1.5)).count();
    assert_eq!(sigs.len(), expected);
}

#[test]
fn scenario2_fires_with_bollinger_mid_as_tp() {
    let h = host(&market());
    let sigs = run(&h, &[2], json!({}));
    assert!(both_directions(&sigs));
    check_levels(&h, &sigs, &IndicatorKey::sma(PriceSide::Bid, 20), 2.0);
    let kz = series(&h, &IndicatorKey::kalman_zscore(PriceSide::Bid, 50, 0.01, 1.0));
    let lower = series(&h, &IndicatorKey::bollinger_lower(PriceSide::Bid, 20, 1.5));
    let upper = series(&h, &IndicatorKey::bollinger_upper(PriceSide::Bid, 20, 1.5));
    let m = h.market();
    for (i, s) in &sigs {
        let (i, p) = (*i, s.parts());
        assert_eq!(p.scenario, Some(2));
        let meta = p.meta.expect("meta");
        assert_eq!(meta["z"], kz[i]);
        match p.direction {
            Direction::Long => {
                assert!(kz[i] <= -1.5 && m.bid_close[i] <= lower[i]);
                assert_eq!(p.reason, "kalman_z_boll_long");
                assert_eq!(meta["lower"], lower[i]);
            }
            Direction::Short => {
                assert!(kz[i] >= 1.5 && m.bid_close[i] >= upper[i]);
                assert_eq!(p.reason, "kalman_z_boll_short");
            }
        }
        assert_eq!(&p.tags[..4], ["kalman", "bollinger", "scenario2", "htf_D1_ema5"]);
        assert!(p.tags[4].starts_with("biasA_") && p.tags[5] == "biasB_na", "{:?}", p.tags);
    }
    // All candidate bars fire (no HTF filtering in mode "both").
    let expected = (0..N)
        .filter(|&i| {
            let long = kz[i] <= -1.5 && m.bid_close[i] <= lower[i];
            let short = kz[i] >= 1.5 && m.bid_close[i] >= upper[i];
            long || short
        })
        .count();
    assert_eq!(sigs.len(), expected);
}

#[test]
fn scenario3_uses_the_ema_and_tp_min_distance() {
    let h = host(&market());
    let sigs = run(&h, &[3], json!({}));
    assert!(both_directions(&sigs));
    check_levels(&h, &sigs, &IndicatorKey::ema(PriceSide::Bid, 20), 2.0);
    let m = h.market();
    let ema = series(&h, &IndicatorKey::ema(PriceSide::Bid, 20));
    for (i, s) in &sigs {
        let p = s.parts();
        assert_eq!(p.tags[2], "scenario3");
        match p.direction {
            Direction::Long => assert!(ema[*i] > m.ask_close[*i] && p.reason == "kalman_z_boll_long"),
            Direction::Short => assert!(ema[*i] < m.bid_close[*i] && p.reason == "kalman_z_boll_short"),
        }
    }
    // A distance no target reaches blocks every scenario-3 signal (the default 1.0 price units).
    assert!(run(&h, &[3], json!({"tp_min_distance": 1.0})).is_empty());
    // With scenario 2 enabled as well, scenario 3 can never fire (spec §7 #5).
    let s23 = run(&h, &[2, 3], json!({}));
    assert!(of_scenario(&s23, 3).is_empty());
    assert_eq!(s23, run(&h, &[2], json!({})));
}

#[test]
fn scenario4_full_and_local_z() {
    let h = host(&market());
    let full = run(&h, &[4], json!({"z_score_long": -2.0, "z_score_short": 2.0, "kalman_r": 1.0, "kalman_q": 0.01}));
    assert!(both_directions(&full), "{} signals", full.len());
    check_levels(&h, &full, &IndicatorKey::sma(PriceSide::Bid, 20), 2.0);
    for (_, s) in &full {
        let p = s.parts();
        assert_eq!(&p.tags[..4], ["kalman", "garch", "bollinger", "scenario4"]);
        assert!(p.reason.starts_with("kalman_garch_z_boll_"));
    }
    // A local window that reaches back to bar 0 restarts nowhere: the same z, the same signals.
    let local = run(
        &h,
        &[4],
        json!({"z_score_long": -2.0, "z_score_short": 2.0, "kalman_r": 1.0, "kalman_q": 0.01, "local_z_lookback": N + 5}),
    );
    assert_eq!(levels(&local), levels(&full));
    // A short local window gives other z values, so other signals (and still valid levels).
    let short_window = run(
        &h,
        &[4],
        json!({"z_score_long": -2.0, "z_score_short": 2.0, "kalman_r": 1.0, "kalman_q": 0.01, "local_z_lookback": 60}),
    );
    assert!(!short_window.is_empty());
    assert_ne!(levels(&short_window), levels(&full));
    check_levels(&h, &short_window, &IndicatorKey::sma(PriceSide::Bid, 20), 2.0);
    // Unavailable GARCH (α + β >= 1): scenario 4 never fires.
    assert!(run(&h, &[4], json!({"garch_alpha": 0.5, "garch_beta": 0.5})).is_empty());
}

#[test]
fn scenario5_is_scenario2_behind_the_volatility_guard() {
    let h = host(&market());
    let s2 = run(&h, &[2], json!({}));
    // Every cluster allowed: the guard passes wherever it has enough points (always, here).
    let open = run(&h, &[5], json!({}));
    assert_eq!(levels(&open), levels(&s2));
    for (_, s) in &open {
        let p = s.parts();
        assert_eq!(p.scenario, Some(5));
        assert!(p.reason.ends_with("_vol_cluster"));
        assert!(!has_tag(s, "scenario2"));
        assert_eq!(&p.tags[p.tags.len() - 2..], ["vol_cluster", "scenario5"]);
    }
    // Only the lowest cluster: a strict, non-empty subset, every signal in rank 0.
    let low = run(&h, &[5], json!({"intraday_vol_allowed": ["LOW "]}));
    assert!(!low.is_empty() && low.len() < s2.len(), "{} of {}", low.len(), s2.len());
    let s2_levels = levels(&s2);
    for (l, (_, s)) in levels(&low).iter().zip(&low) {
        assert!(s2_levels.contains(l));
        assert_eq!(s.parts().meta.expect("meta")["vol_rank"], 0.0);
    }
    // Empty allowed list: never (spec §7 #14). Too few points: never.
    assert!(run(&h, &[5], json!({"intraday_vol_allowed": []})).is_empty());
    assert!(run(&h, &[5], json!({"intraday_vol_min_points": N + 1})).is_empty());
    // The GARCH feature on a local window also fires, with hysteresis blocking some bars.
    let garch = run(&h, &[5], json!({"intraday_vol_feature": "garch_forecast", "intraday_vol_garch_lookback": 200}));
    assert!(!garch.is_empty());
    let hyst = run(
        &h,
        &[5],
        json!({"intraday_vol_feature": "garch_forecast", "intraday_vol_garch_lookback": 200, "cluster_hysteresis_bars": 5}),
    );
    assert!(hyst.len() < garch.len());
    let garch_levels = levels(&garch);
    assert!(levels(&hyst).iter().all(|l| garch_levels.contains(l)));
}

#[test]
fn scenario6_chain_on_the_primary_equals_scenario2() {
    let h = host(&market());
    let s2 = run(&h, &[2], json!({}));
    let s6 = run(&h, &[6], json!({"scenario6_timeframes": ["PRIMARY"]}));
    assert_eq!(levels(&s6), levels(&s2));
    for (_, s) in &s6 {
        let p = s.parts();
        assert_eq!(p.scenario, Some(6));
        assert!(p.reason.ends_with("_multi_tf"));
        assert_eq!(&p.tags[p.tags.len() - 3..], ["scenario6", "multi_tf", "tf_h1_ok"]);
    }
    // An impossible second timeframe: "all" never passes, "any" passes as before.
    let impossible = json!({"long": {"z_score": -1e9}, "short": {"z_score": 1e9}});
    let chain = |mode: &str| {
        run(
            &h,
            &[6],
            json!({"scenario6_timeframes": ["primary", "H4"], "scenario6_mode": mode,
                   "scenario6_params": {"H4": impossible.clone()}}),
        )
    };
    assert!(chain("all").is_empty());
    let any = chain("any");
    assert_eq!(levels(&any), levels(&s2));
    assert!(any.iter().all(|(_, s)| has_tag(s, "tf_h1_ok") && has_tag(s, "tf_h4_fail")));
    // A real HTF chain fires on a subset of scenario 2.
    let h4 = run(
        &h,
        &[6],
        json!({"scenario6_timeframes": ["H4"], "scenario6_params": {"H4": {"window_length": 20, "z_score": 0.0,
               "std_factor": 0.0, "long": {"z_score": 0.5}, "short": {"z_score": -0.5}}}}),
    );
    let s2_levels = levels(&s2);
    assert!(!h4.is_empty() && h4.len() < s2.len(), "{} of {}", h4.len(), s2.len());
    assert!(levels(&h4).iter().all(|l| s2_levels.contains(l)));
    // Empty chain: never.
    assert!(run(&h, &[6], json!({})).is_empty());
}

#[test]
fn htf_filters_admit_exactly_the_matching_bias() {
    let h = host(&market());
    let both = run(&h, &[2], json!({}));
    for (mode, tag) in [("above", "biasA_above"), ("below", "biasA_below")] {
        let filtered = run(&h, &[2], json!({"htf_filter": mode}));
        let expected: Vec<_> = both.iter().filter(|(_, s)| has_tag(s, tag)).cloned().collect();
        assert!(!expected.is_empty() && expected.len() < both.len(), "{mode}");
        assert_eq!(filtered, expected, "{mode}");
    }
    // Filter B on H4, with filter A off.
    let b_both = run(&h, &[2], json!({"htf_tf": "NONE", "extra_htf_tf": "H4", "extra_htf_ema": 10}));
    assert!(b_both.iter().all(|(_, s)| has_tag(s, "htf_NONE_ema5") && has_tag(s, "biasA_na")));
    let b_above = run(
        &h,
        &[2],
        json!({"htf_tf": "NONE", "extra_htf_tf": "H4", "extra_htf_ema": 10, "extra_htf_filter": "above"}),
    );
    let expected: Vec<_> = b_both.iter().filter(|(_, s)| has_tag(s, "biasB_above")).cloned().collect();
    assert!(!expected.is_empty() && expected.len() < b_both.len());
    assert_eq!(b_above, expected);
    // TF NONE with a directional mode does not block (spec §7 #2).
    assert_eq!(levels(&run(&h, &[2], json!({"htf_tf": "NONE", "htf_filter": "above"}))), levels(&both));
    // Scenario 1 ignores the HTF filters.
    assert_eq!(run(&h, &[1], json!({"htf_filter": "above"})), run(&h, &[1], json!({})));
}

#[test]
fn htf_bias_follows_visibility_and_the_stale_rule() {
    let h = host(&market());
    let stale_limit = 3;
    let sigs = run(&h, &[2], json!({"stale_bar_limit_bars": stale_limit}));
    let d1 = h.bars(Some(Timeframe::D1)).expect("D1 bars");
    let visible = d1.visible.expect("visibility");
    let d1_ema = series(&h, &IndicatorKey::ema(PriceSide::Bid, 5).on(Some(Timeframe::D1)));
    let mut seen = [0_usize; 2];
    for (i, s) in &sigs {
        let i = *i;
        let v = visible[i];
        let j0 = (0..=i).find(|&j| visible[j] == v).expect("became visible");
        let want = if v < 0 || i - j0 > stale_limit {
            "biasA_na"
        } else {
            let (c, e) = (d1.bid_close[v as usize], d1_ema[v as usize]);
            if c > e {
                "biasA_above"
            } else if c < e {
                "biasA_below"
            } else {
                "biasA_neutral"
            }
        };
        assert!(has_tag(s, want), "bar {i}: {:?} (want {want})", s.parts().tags);
        seen[usize::from(want == "biasA_na")] += 1;
    }
    assert!(seen[0] > 0 && seen[1] > 0, "both fresh and stale bars signal: {seen:?}");
    // "above" with the stale rule blocks every stale bar.
    let above = run(&h, &[2], json!({"stale_bar_limit_bars": stale_limit, "htf_filter": "above"}));
    let expected: Vec<_> = sigs.iter().filter(|(_, s)| has_tag(s, "biasA_above")).cloned().collect();
    assert_eq!(above, expected);
}

#[test]
fn direction_filter_and_enabled_scenarios_gate_the_loop() {
    let h = host(&market());
    let all = run(&h, &[1, 2, 3, 4, 5, 6], json!({"scenario6_timeframes": ["PRIMARY"]}));
    let long_only =
        run(&h, &[1, 2, 3, 4, 5, 6], json!({"scenario6_timeframes": ["PRIMARY"], "direction_filter": "long"}));
    assert!(!long_only.is_empty());
    assert!(long_only.iter().all(|(_, s)| s.parts().direction == Direction::Long));
    let long_levels = levels(&long_only);
    for l in levels(&all).into_iter().filter(|l| l.1 == "long") {
        assert!(long_levels.contains(&l), "a long of the two-sided run is missing: {l:?}");
    }
    // The top-level field works as well when params do not set it.
    let mut cfg = config("H1", params(&[1, 2], json!({})));
    cfg.direction_filter = "short".into();
    let shorts = signals(&cfg, &h);
    assert!(!shorts.is_empty() && shorts.iter().all(|(_, s)| s.parts().direction == Direction::Short));
    // First signal wins in the original order: scenario 1 before 2, and only enabled scenarios fire.
    let s1 = run(&h, &[1], json!({}));
    let s12 = run(&h, &[1, 2], json!({}));
    let s1_bars: Vec<usize> = s1.iter().map(|(i, _)| *i).collect();
    for (i, s) in &s12 {
        let n = s.parts().scenario;
        assert!(n == Some(1) || n == Some(2));
        assert_eq!(n == Some(1), s1_bars.contains(i), "bar {i}");
    }
    assert!(run(&h, &[2], json!({})).iter().all(|(_, s)| s.parts().scenario == Some(2)));
}
