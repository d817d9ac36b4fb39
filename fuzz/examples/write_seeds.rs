//! Writes the binary seed inputs of the `candles`, `plugin_table` and `plugin_out` targets into
//! `corpus/<target>/` (the `config_json` seeds are plain JSON files, written by hand). Run from the
//! repository root after a layout change:
//! `cargo run --manifest-path fuzz/Cargo.toml --no-default-features --example write_seeds`.
//! Each seed is a well-formed input, or one that breaks exactly one rule, so that the fuzzer starts
//! from every branch of the decoder and the validator.

use std::path::Path;

use omega_core::plugin::{ABI_MAJOR, ABI_MINOR, PLUGIN_TABLE_SIZE};

fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}

fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_ne_bytes());
}

/// A candles input: 24-byte header, then `n` plain rows (gap 0, small moves) with one row altered.
fn candles(tf: u8, flags: u8, n: usize, alter: impl Fn(usize, &mut Vec<u8>)) -> Vec<u8> {
    let mut out = vec![0u8; 24];
    out[0] = tf;
    out[1] = flags;
    out[2] = 3; // every 4 bars
    out[3] = 5; // hold 5 bars
    out[5] = 8; // ZScoreEma
    out[8] = 20; // param 0
    out[10] = 100; // param 1 = 1.0
    out[12..20].copy_from_slice(&1_704_067_200_000_000_i64.to_le_bytes());
    for i in 0..n {
        let mut row = vec![0u8, 0, 0, 0, 0, 0, 3, 3, 10, 2];
        let step = ((i * 7919) % 21) as i16 - 10;
        row[2..4].copy_from_slice(&step.to_le_bytes());
        row[4] = ((i % 5) as i8 - 2) as u8;
        row[5] = ((i % 3) as i8 - 1) as u8;
        alter(i, &mut row);
        out.extend_from_slice(&row);
    }
    out
}

/// A v1.1 plugin table image (as in `omega_core::plugin::image`'s tests): strings in the data area.
fn table(major: u32, minor: u32, size: u32, name: &[u8], version: &str, flags: u64) -> Vec<u8> {
    let mut t = vec![0u8; PLUGIN_TABLE_SIZE];
    put32(&mut t, 0, major);
    put32(&mut t, 4, minor);
    put32(&mut t, 8, size);
    let core = b"0.1.0";
    put64(&mut t, 16, (name.len() + version.len() + 1) as u64);
    put64(&mut t, 24, core.len() as u64);
    put64(&mut t, 32, 1);
    put64(&mut t, 40, name.len() as u64);
    put64(&mut t, 48, (name.len() + 1) as u64);
    put64(&mut t, 56, version.len() as u64);
    for slot in 0..7 {
        put64(&mut t, 64 + 8 * slot, 0x1000 + 8 * slot as u64);
    }
    put64(&mut t, 120, flags);
    t.truncate((size as usize).clamp(16, PLUGIN_TABLE_SIZE));
    t.resize((size as usize).clamp(16, PLUGIN_TABLE_SIZE), 0);
    t.extend_from_slice(name);
    t.extend_from_slice(version.as_bytes());
    t.extend_from_slice(core);
    t
}

/// A `SignalOut` + `ErrorOut` image: a long signal with two tags, two meta entries, an error record.
fn out_image(has_meta: bool, error_code: u32) -> Vec<u8> {
    let mut head = vec![0u8; 144];
    put32(&mut head, 0, 1);
    head[8..16].copy_from_slice(&1.1f64.to_ne_bytes());
    head[16..24].copy_from_slice(&1.09f64.to_ne_bytes());
    head[24..32].copy_from_slice(&1.12f64.to_ne_bytes());
    put32(&mut head, 32, 1);
    put32(&mut head, 36, 3);
    put32(&mut head, 40, 1);
    put32(&mut head, 44, u32::from(has_meta));
    // Pointer values are data offsets + 1; the texts follow the four 16-byte view chunks and the
    // two meta values: "reason" at 96, tags "s2" and "zlo", meta keys "k1" and "k2", then the
    // error's subject "sub" and message "boom!".
    put64(&mut head, 48, 97);
    put64(&mut head, 56, 6);
    put64(&mut head, 64, 1); // tags: chunk 0
    put64(&mut head, 72, 2);
    put64(&mut head, 80, 33); // meta keys: chunk 2
    put64(&mut head, 88, 65); // meta values: chunk 4
    put64(&mut head, 96, 2);
    put32(&mut head, 104, error_code);
    put64(&mut head, 112, 112);
    put64(&mut head, 120, 3);
    put64(&mut head, 128, 115);
    put64(&mut head, 136, 5);
    let mut data = vec![0u8; 96];
    for (chunk, (off, len)) in [(0, (103u64, 2u64)), (1, (105, 3)), (2, (108, 2)), (3, (110, 2))] {
        put64(&mut data, chunk * 16, off);
        put64(&mut data, chunk * 16 + 8, len);
    }
    data[64..72].copy_from_slice(&0.5f64.to_ne_bytes());
    data[72..80].copy_from_slice(&(-3.0f64).to_ne_bytes());
    data.extend_from_slice(b"reasons2zlok1k2subboom!");
    head.extend_from_slice(&data);
    head
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let write = |target: &str, name: &str, bytes: Vec<u8>| {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).expect("create the corpus directory");
        std::fs::write(dir.join(name), bytes).expect("write a seed");
    };
    write("candles", "m1_valid", candles(0, 0, 120, |_, _| {}));
    write("candles", "m5_fixed_next_open_costs", candles(1, 2 | 4 | 16, 120, |_, _| {}));
    write("candles", "h4_new_york", candles(5, 8, 60, |_, _| {}));
    write("candles", "crossed_allowed", candles(0, 1, 40, |i, r| r[0] = if i % 4 == 0 { 4 } else { 0 }));
    write("candles", "crossed_refused", candles(0, 0, 40, |i, r| r[0] = if i == 20 { 4 } else { 0 }));
    write(
        "candles",
        "nan_price",
        candles(0, 0, 40, |i, r| {
            if i == 7 {
                r[0] = 2;
                r.push(3);
                r.extend_from_slice(&f64::NAN.to_le_bytes())
            }
        }),
    );
    write(
        "candles",
        "huge_mid",
        candles(0, 0, 40, |i, r| {
            if i == 3 {
                r[0] = 8;
                r.extend_from_slice(&1e300f64.to_le_bytes())
            }
        }),
    );
    write(
        "candles",
        "raw_gap_backwards",
        candles(0, 0, 20, |i, r| {
            if i == 5 {
                r[0] = 1;
                r.extend_from_slice(&(-60_000_000i64).to_le_bytes())
            }
        }),
    );
    write("candles", "usdjpy_keep_open", {
        let mut c = candles(0, 32, 80, |_, _| {});
        c[4] = 1;
        c
    });
    write("candles", "extreme_start", {
        let mut c = candles(0, 128, 3, |_, _| {});
        c[12..20].copy_from_slice(&(i64::MAX - 60_000_000).to_le_bytes());
        c
    });

    let v = ABI_MAJOR;
    let full = PLUGIN_TABLE_SIZE as u32;
    write("plugin_table", "valid_v1_1", table(v, ABI_MINOR, full, b"probe", "1.2.3", 1));
    write("plugin_table", "valid_v1_0", table(v, 0, 120, b"old_probe", "0.9", 0));
    write("plugin_table", "other_major", table(v + 1, 0, 4096, b"probe", "1", 1));
    write("plugin_table", "panic_abort", table(v, ABI_MINOR, full, b"probe", "1", 0));
    write("plugin_table", "bad_name", table(v, ABI_MINOR, full, b"9 lives", "1", 1));
    write("plugin_table", "invalid_utf8_name", table(v, ABI_MINOR, full, b"pro\xffbe", "1", 1));
    write("plugin_table", "short_table", table(v, ABI_MINOR, 72, b"probe", "1", 1));
    write("plugin_table", "capsule_name", b"omega.strategy_plugin.v1\0".to_vec());
    write("plugin_table", "huge_name_len", {
        let mut t = table(v, ABI_MINOR, full, b"probe", "1", 1);
        put64(&mut t, 40, 1 << 45);
        t
    });
    write("plugin_table", "null_name_with_len", {
        let mut t = table(v, ABI_MINOR, full, b"probe", "1", 1);
        put64(&mut t, 32, 0);
        t
    });

    write("plugin_out", "signal_with_meta", out_image(true, 4006));
    write("plugin_out", "signal_without_meta", out_image(false, 4002));
    write("plugin_out", "error_code_zero", out_image(false, 0));
    write("plugin_out", "misaligned_tags", {
        let mut o = out_image(true, 4007);
        put64(&mut o, 64, 1 | 1 << 63);
        o
    });
    write("plugin_out", "too_many_tags", {
        let mut o = out_image(true, 4007);
        put64(&mut o, 72, 1 << 40);
        o
    });
    write("plugin_out", "huge_reason", {
        let mut o = out_image(true, 4004);
        put64(&mut o, 56, 1 << 45);
        o
    });
}
