"""Error classes and codes: the Python hierarchy, docs/errors.md, and that the native core raises
the same classes (with ``err.code`` and ``err.context``) for every code it can reach."""

from __future__ import annotations

import ctypes
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import omega
import pyarrow as pa
import pytest
from omega import errors

DOCS = Path(__file__).resolve().parents[1] / "docs" / "errors.md"

EXPECTED = {
    "E4001": ("STRATEGY_NOT_FOUND", "StrategyNotFoundError", ValueError),
    "E4002": ("INVALID_CONFIG", "InvalidConfigError", ValueError),
    "E4003": ("INDICATOR_NOT_AVAILABLE", "IndicatorNotAvailableError", RuntimeError),
    "E4004": ("INSUFFICIENT_DATA", "InsufficientDataError", ValueError),
    "E4005": ("POSITION_LIMIT_EXCEEDED", "PositionLimitExceededError", RuntimeError),
    "E4006": ("INVALID_SIGNAL", "InvalidSignalError", RuntimeError),
    "E4007": ("PLUGIN_INCOMPATIBLE", "PluginIncompatibleError", RuntimeError),
    "E4008": ("STRATEGY_PANIC", "StrategyPanicError", RuntimeError),
    "E4009": ("INTERNAL_ERROR", "InternalError", RuntimeError),
}


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_class_per_code(code: str) -> None:
    name, cls_name, base = EXPECTED[code]
    cls = errors.error_for_code(code)
    assert cls.__name__ == cls_name
    assert cls.code == code
    assert cls.name == name
    assert issubclass(cls, base)
    assert issubclass(cls, errors.OmegaError)
    assert getattr(omega, cls_name) is cls
    err = cls("boom", {"key": "x"})
    assert err.code == code
    assert err.context == {"key": "x"}
    assert str(err) == f"[{code}] boom"
    assert err.docs.endswith(f"#{code.lower()}")
    with pytest.raises(base):
        raise err


def test_seed_builtin_bases_catch() -> None:
    """``except ValueError`` keeps working for the seed's ValueError codes."""
    caught: list[str] = []
    for exc in (errors.StrategyNotFoundError("a"), errors.InvalidConfigError("b"), errors.InsufficientDataError("c")):
        try:
            raise exc
        except ValueError as e:
            caught.append(getattr(e, "code", ""))
    assert caught == ["E4001", "E4002", "E4004"]


def test_unknown_code_is_internal() -> None:
    assert errors.error_for_code("E9999") is errors.InternalError
    assert errors.error_for_code("") is errors.InternalError


def test_list_errors_enumerates_every_class() -> None:
    listed = omega.list_errors()
    assert [e["code"] for e in listed] == sorted(EXPECTED)
    for entry in listed:
        name, cls_name, base = EXPECTED[entry["code"]]
        assert entry == {"code": entry["code"], "name": name, "class": cls_name, "base": base.__name__}


def test_docs_table_matches_list_errors() -> None:
    rows = re.findall(r"^\| <a id=\"(e\d{4})\"></a>(E\d{4}) \| (\w+) \| `(\w+)` \| (\w+) \|", DOCS.read_text(), re.M)
    documented = [{"code": code, "name": name, "class": cls, "base": base} for anchor, code, name, cls, base in rows]
    assert all(anchor == code.lower() for anchor, code, *_ in rows)
    assert documented == omega.list_errors()


# --- the native core raises the same classes ---------------------------------------------------


def test_native_reexports_the_python_classes(native: ModuleType) -> None:
    for cls in errors.ERROR_CLASSES:
        assert getattr(native, cls.__name__) is cls
    assert native.OmegaError is errors.OmegaError


def test_native_e4001_unknown_strategy(native: ModuleType, market: pa.Table) -> None:
    cfg = native.StrategyConfig("EURUSD", "M1")
    with pytest.raises(ValueError, match="E4001") as info:
        native.run_backtest_rust("no_such_strategy", cfg, market)
    err = info.value
    assert isinstance(err, errors.StrategyNotFoundError)
    assert err.code == "E4001"
    assert err.context["strategy"] == "no_such_strategy"
    assert err.context["backend"] == "rust"


def test_native_e4002_names_the_key(native: ModuleType) -> None:
    with pytest.raises(errors.InvalidConfigError) as info:
        native.StrategyConfig.from_json('{"symbol": "EURUSD", "timeframe": "M1", "engine": {"risk_per_trade": -1}}')
    assert info.value.code == "E4002"
    assert info.value.context["key"] == "engine.risk_per_trade"
    assert "engine.risk_per_trade" in str(info.value)
    with pytest.raises(ValueError, match="bogus"):
        native.StrategyConfig.from_json('{"symbol": "EURUSD", "timeframe": "M1", "bogus": 1}')


def test_native_e4003_bad_indicator_key(native: ModuleType, market: pa.Table) -> None:
    cache = native.IndicatorCache(market)
    with pytest.raises(errors.IndicatorNotAvailableError) as info:
        cache.series(("no_such_indicator", "bid", None, [3]))
    assert info.value.code == "E4003"
    assert isinstance(info.value, RuntimeError)
    with pytest.raises(errors.IndicatorNotAvailableError):
        cache.series(("sma", "bid", None, [0]))  # window 0 is invalid (docs/indicators.md)
    # a higher timeframe that is not a multiple of the primary one cannot be built
    m5 = omega.data.generate_market(600, 3, "M5")
    with pytest.raises(errors.IndicatorNotAvailableError):
        native.IndicatorCache(m5, timeframe="M5").series(("close", "bid", "M1", []))


def test_native_e4004_data(native: ModuleType) -> None:
    with pytest.raises(ValueError, match="E4004") as info:
        native.validate_candles(pa.table({"timestamp_us": pa.array([], pa.int64())}))
    assert isinstance(info.value, errors.InsufficientDataError)
    assert info.value.context["code"] == "E4004"


def _capsule(name: Any, pointer: int) -> Any:
    """A PyCapsule made through the C API; `name` is a ctypes buffer the caller keeps alive
    (a capsule stores the name pointer, not a copy)."""
    new = ctypes.pythonapi.PyCapsule_New
    new.restype = ctypes.py_object
    new.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    return new(pointer, ctypes.addressof(name), None)


def test_native_e4007_capsule_name_and_header(native: ModuleType) -> None:
    header = (ctypes.c_uint32 * 4)(2, 0, 16, 0)  # ABI major 2, 16-byte table: every slot missing
    v2 = ctypes.create_string_buffer(b"omega.strategy_plugin.v2")
    wrong_name = _capsule(v2, ctypes.addressof(header))
    with pytest.raises(errors.PluginIncompatibleError) as info:
        native.register_plugin(wrong_name, "some-package")
    assert info.value.code == "E4007"
    assert "some-package" in str(info.value)
    assert "major 2" in str(info.value)
    v1 = ctypes.create_string_buffer(native.CAPSULE_NAME.encode())
    right_name = _capsule(v1, ctypes.addressof(header))
    with pytest.raises(errors.PluginIncompatibleError) as info:
        native.register_plugin(right_name, "some-package")
    text = str(info.value)
    # another major: one error, and nothing beyond the header is read (its layout is unknown)
    assert "ABI major 2 != 1" in text
    assert "slot" not in text
    assert "struct_size" not in text
    assert info.value.context["plugin"] == "some-package"
    v1_header = (ctypes.c_uint32 * 4)(1, 0, 16, 0)  # our major, 16-byte table: every slot missing
    with pytest.raises(errors.PluginIncompatibleError) as info:
        native.register_plugin(_capsule(v1, ctypes.addressof(v1_header)), "some-package")
    text = str(info.value)
    # every mismatch is reported at once: size and the missing slots
    assert "struct_size 16 < 120" in text
    assert "slot 'create' missing" in text
    assert "slot 'version' missing" in text
    with pytest.raises(errors.PluginIncompatibleError, match=r"instead of a PyCapsule"):
        native.register_plugin(object(), "some-package")
    assert "some-package" not in {n for n in native.STRATEGY_REGISTRY}


def test_native_e4008_strategy_panic(sma_plugin: str, market: pa.Table, sma_config: dict[str, Any]) -> None:
    from omega import bridge

    cfg = {**sma_config, "params": {**sma_config["params"], "panic_at_bar": 10}}  # evaluate runs: nothing is open yet
    with pytest.raises(RuntimeError) as info:
        bridge.run_rust_backtest(sma_plugin, cfg, market)
    err = info.value
    assert isinstance(err, errors.StrategyPanicError)
    assert err.code == "E4008"
    assert sma_plugin in str(err)
    assert "panic_at_bar reached at bar 10" in str(err)
    assert err.context["strategy"] == sma_plugin
    # the process and the plugin are fine afterwards
    assert len(bridge.run_rust_backtest(sma_plugin, sma_config, market).equity_curve) == market.num_rows


def test_native_strategy_init_error_keeps_its_code(
    sma_plugin: str, market: pa.Table, sma_config: dict[str, Any]
) -> None:
    from omega import bridge

    cfg = {**sma_config, "params": {"fail_init": True}}
    with pytest.raises(errors.InvalidConfigError, match="fail_init"):
        bridge.run_rust_backtest(sma_plugin, cfg, market)
