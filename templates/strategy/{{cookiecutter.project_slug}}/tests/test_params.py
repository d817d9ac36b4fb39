"""The parameter model mirrors the Rust ``Params`` defaults and rules (pure Python, no backtest)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from {{ cookiecutter.package_name }}.params import {{ cookiecutter.__class_name }}Params


def test_defaults_match_the_rust_side() -> None:
    p = {{ cookiecutter.__class_name }}Params()
    assert (p.ema_length, p.atr_length, p.band_atr, p.sl_atr, p.tp_atr, p.max_bars) == (20, 14, 1.0, 1.5, 3.0, 120)
    assert p.breakeven_r == 1.0
    assert {{ cookiecutter.__class_name }}Params(breakeven_r=None).breakeven_r is None


@pytest.mark.parametrize(
    "bad",
    [
        {"bogus": 1},
        {"ema_length": 0},
        {"atr_length": 2.5},
        {"band_atr": -1.0},
        {"sl_atr": 0},
        {"tp_atr": float("nan")},
        {"breakeven_r": 0},
        {"max_bars": 0},
    ],
)
def test_invalid_values_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match=next(iter(bad))):
        {{ cookiecutter.__class_name }}Params.model_validate(bad)
