"""Pure-Python reference backend (never imports Rust)."""
