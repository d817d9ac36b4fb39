//! Renders the strategy template's `strategy.rs` (the cookiecutter defaults) into OUT_DIR, so that
//! the identical-trades test runs the template's own rule through the engine.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let src = manifest.join("../../../templates/strategy/{{cookiecutter.project_slug}}/src/strategy.rs");
    println!("cargo:rerun-if-changed={}", src.display());
    let text = std::fs::read_to_string(&src).expect("the strategy template is in the repository");
    let rendered: String = text
        .replace("{{ cookiecutter.strategy_name }}", "ema_atr_breakout")
        .replace("{{ cookiecutter.__class_name }}", "EmaAtrBreakout")
        .replace("{{ cookiecutter.package_name }}", "omega_strategies_ema_atr_breakout")
        .lines()
        // inner doc comments cannot appear inside `include!`
        .map(|l| if l.starts_with("//!") { l.replacen("//!", "//", 1) } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!rendered.contains("{{"), "unrendered template placeholder in strategy.rs");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("template_strategy.rs");
    std::fs::write(out, rendered).expect("OUT_DIR is writable");
}
