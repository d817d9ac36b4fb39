"""The instrument table and lot grid (docs/instruments.md, docs/engine.md "Sizing")."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from omega import instruments
from omega.errors import InvalidConfigError

TABLE = Path(instruments.__file__).with_name("instruments.json")
MAJORS = ("EURUSD", "GBPUSD", "USDJPY", "USDCHF", "USDCAD", "AUDUSD", "NZDUSD")


def test_table_rows_are_complete_unique_and_valid() -> None:
    rows = json.loads(TABLE.read_text())["instruments"]
    assert [tuple(r) for r in rows] == [instruments.FIELDS] * len(rows), "every row has every field, in order"
    names = [r["symbol"] for r in rows]
    assert len(names) == len(set(names))
    for name in (*MAJORS, "EURGBP", "EURJPY", "GBPJPY", "XAUUSD", "US500", "GER40"):
        assert name in names
    for r in rows:
        inst = instruments.resolve(r["symbol"])
        assert inst.to_dict() == r
        if r["symbol"][:3].isalpha() and len(r["symbol"]) == 6 and r["base"] != "XAU" and r["base"] != "XAG":
            assert r["symbol"] == r["base"] + r["quote"]
            assert r["pip_size"] == (0.01 if r["quote"] == "JPY" else 0.0001)
            assert r["contract_size"] == 100_000.0


def test_rust_embeds_this_very_file() -> None:
    """One source: the Rust core includes the JSON the Python side reads (no second copy)."""
    src = Path(__file__).parents[1] / "omega-core/crates/omega-core/src/instruments.rs"
    assert 'include_str!("../../../python/omega/instruments.json")' in src.read_text()
    embedded = (src.parent / "../../../python/omega/instruments.json").resolve()
    assert embedded.read_bytes() == TABLE.read_bytes(), "the installed wheel ships the file the core embeds"


def test_lookup_normalises_and_overrides_apply() -> None:
    assert instruments.lookup("usd/jpy") == instruments.lookup("USDJPY")
    i = instruments.resolve("EURUSD", {"lot_step": 0.1, "min_lot": 0.5, "pip_size": None})
    assert (i.lot_step, i.min_lot, i.max_lot, i.pip_size) == (0.1, 0.5, 100.0, 0.0001)


def test_unknown_symbol_names_the_missing_fields() -> None:
    with pytest.raises(InvalidConfigError, match=r"engine\.symbol_spec\.base, engine\.symbol_spec\.quote") as e:
        instruments.resolve("EURUSD.r")
    assert e.value.code == "E4002"
    i = instruments.resolve("EURUSD.r", {"base": "EUR", "quote": "USD", "pip_size": 0.0001})
    assert (i.symbol, i.contract_size, i.lot_step) == ("EURUSD.R", 100_000.0, 0.01)
    with pytest.raises(InvalidConfigError, match=r"engine\.symbol_spec\.quote"):
        instruments.resolve("EURUSD", {"quote": "usd"})


@given(st.integers(min_value=1, max_value=1_000_000), st.sampled_from(["0.01", "0.1", "1", "0.05", "0.001"]))
def test_lots_are_the_nearest_double_to_the_decimal_size(steps: int, step: str) -> None:
    grid = instruments.LotGrid.of(float(step), float(step), 1e9)
    assert grid.lots(float(steps)) == float(Decimal(steps) * Decimal(step))
    assert grid.steps_in(grid.lots(float(steps))) == steps


def test_min_and_max_in_steps() -> None:
    g = instruments.LotGrid.of(0.1, 0.5, 0.6)
    assert (g.min_steps, g.max_steps) == (5.0, 6.0)
    assert g.clamp(4.0) is None
    assert g.clamp(float("nan")) is None
    assert g.clamp(9.0) == 6.0
    assert g.lots(6.0) == 0.6
