//! Replays every committed input of every fuzz target through the same function libFuzzer calls:
//! the seed corpora (`corpus/<target>/`) and the inputs that once failed (`regressions/<target>/`).
//! This is the CI smoke (`.ci/run`): no libFuzzer, no nightly, no sanitizer, a plain `cargo test`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

/// Every file of `dir` (sorted, so that failures are listed in a stable order).
fn inputs(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

#[test]
fn every_committed_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failures = Vec::new();
    for (name, target) in omega_fuzz::TARGETS {
        let seeds = inputs(&root.join("corpus").join(name));
        assert!(seeds.len() >= 3, "target '{name}' has {} seeds in corpus/{name}/ (want at least 3)", seeds.len());
        for path in seeds.iter().chain(&inputs(&root.join("regressions").join(name))) {
            let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| target(&data))) {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{}: {msg}", path.strip_prefix(root).unwrap_or(path).display()));
            }
        }
    }
    assert!(failures.is_empty(), "{} input(s) failed:\n{}", failures.len(), failures.join("\n"));
}

/// The seeds start the fuzzer where they say they do (a seed that no longer reaches its branch
/// after a layout change would silently make the fuzzing shallower).
#[test]
fn seeds_reach_their_branches() {
    use omega_core::plugin::image::{check_out_image, check_table_image};
    use omega_fuzz::candles::{outcome, Outcome};

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let seed = |target: &str, name: &str| std::fs::read(root.join(target).join(name)).expect("a committed seed");
    for name in ["m1_valid", "m5_fixed_next_open_costs", "h4_new_york", "crossed_allowed", "usdjpy_keep_open"] {
        match outcome(&seed("candles", name)) {
            Outcome::Ran { bars, trades, signals } => {
                assert!(
                    bars >= 40 && trades > 0 && signals > 0,
                    "{name}: {bars} bars, {trades} trades, {signals} signals"
                )
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    for name in ["crossed_refused", "nan_price", "raw_gap_backwards"] {
        assert_eq!(outcome(&seed("candles", name)), Outcome::Refused("E4004"), "{name}");
    }

    let valid = check_table_image(&seed("plugin_table", "valid_v1_1")).expect("the valid table seed");
    assert_eq!((valid.name.as_str(), valid.version.as_str(), valid.panic_unwind), ("probe", "1.2.3", Some(true)));
    assert_eq!(check_table_image(&seed("plugin_table", "valid_v1_0")).expect("v1.0 seed").panic_unwind, None);
    for (name, needle) in [
        ("other_major", "ABI major 2"),
        ("panic_abort", "panic = \"abort\""),
        ("bad_name", "not a valid name"),
        ("invalid_utf8_name", "not UTF-8"),
        ("short_table", "struct_size 72"),
        ("huge_name_len", "exceeds the limit of 128"),
        ("null_name_with_len", "NULL pointer with length 5"),
    ] {
        let e = check_table_image(&seed("plugin_table", name)).expect_err(name);
        assert!(e.to_string().contains(needle), "{name}: {e}");
    }

    let (signal, error) = check_out_image(&seed("plugin_out", "signal_with_meta"));
    let signal = signal.expect("has_signal").expect("a valid signal");
    let p = signal.parts();
    assert_eq!((p.reason, p.tags, p.scenario), ("reason", &["s2".to_string(), "zlo".to_string()][..], Some(3)));
    let meta = p.meta.expect("meta");
    assert_eq!((meta["k1"], meta["k2"]), (0.5, -3.0));
    assert_eq!((error.code(), error.to_string()), ("E4006", "invalid signal: boom!".to_string()));
    for (name, needle) in [
        ("misaligned_tags", "misaligned"),
        ("too_many_tags", "1099511627776 entries"),
        ("huge_reason", "exceeds the limit of 65536"),
    ] {
        let e = check_out_image(&seed("plugin_out", name)).0.expect("has_signal").expect_err(name);
        assert!(e.to_string().contains(needle), "{name}: {e}");
    }
}
