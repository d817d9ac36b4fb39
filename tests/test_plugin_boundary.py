"""The plugin boundary seen from Python (docs/abi.md, docs/errors.md "What a plugin can and cannot do
to the host"): forged capsules whose declared strings are hostile are refused with one E4007 and
never crash the process; a failed registration leaves nothing behind (a spec/capsule name mismatch,
one bad capsule in a batch); the strategy-name rule is the same on both sides; and a plugin built in
Cargo's dev profile runs in the release-built core with the same trades.

Capsules here are copies of the test plugin's real table (its functions stay valid: the plugin's
extension module is never unloaded), with the strategy name or another field changed.
"""

from __future__ import annotations

import ctypes
import itertools
import json
import os
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import omega
import pyarrow as pa
import pytest
from conftest import missing
from hypothesis import given
from hypothesis import strategies as st
from omega import bridge, errors, hookspecs
from omega.hookspecs import hookimpl

ROOT = Path(__file__).resolve().parents[1]
TABLE_V1_0 = 120  # frozen size of an ABI 1.0 table
TABLE_V1_1 = 144
NAME_OFFSET = 32  # PluginTable::strategy_name (StrView: ptr, len)
FLAGS_OFFSET = 120  # PluginTable::flags (ABI 1.1)

# Everything a forged capsule points to must outlive it: the capsule keeps raw pointers.
_keep: list[Any] = []

_new_capsule = ctypes.pythonapi.PyCapsule_New
_new_capsule.restype = ctypes.py_object
_new_capsule.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
_get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_get_pointer.restype = ctypes.c_void_p
_get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]


def _capsule_of(table: ctypes.Array[ctypes.c_char], native: ModuleType) -> Any:
    name = ctypes.create_string_buffer(native.CAPSULE_NAME.encode())
    _keep.extend([table, name])
    return _new_capsule(ctypes.addressof(table), ctypes.cast(name, ctypes.c_char_p), None)


def _table_copy(pointer: int, trailing: int = 0) -> ctypes.Array[ctypes.c_char]:
    """A writable copy of the plugin table at `pointer` (its declared `struct_size` bytes), followed
    by `trailing` bytes of 0xAB (the unknown slots of a newer minor)."""
    size = ctypes.c_uint32.from_address(pointer + 8).value
    buf = ctypes.create_string_buffer(b"\xab" * (size + trailing), size + trailing)
    ctypes.memmove(buf, pointer, size)
    return buf


def _set_name(table: ctypes.Array[ctypes.c_char], ptr: int | None, length: int) -> None:
    ctypes.c_void_p.from_buffer(table, NAME_OFFSET).value = ptr
    ctypes.c_size_t.from_buffer(table, NAME_OFFSET + 8).value = length


def forged(
    native: ModuleType, name: bytes | None = None, length: int | None = None, trailing: int = 0, **u32: int
) -> Any:
    """A capsule over a copy of the test plugin's table (plus `trailing` unknown bytes), with the
    strategy name replaced by `name` (or a NULL pointer when `name` is None), its length by `length`
    when given, and header fields (`abi_major`, `abi_minor`, `struct_size`) overridden."""
    from omega_test_plugin import _native as plugin_native

    original = plugin_native.plugin_capsule()  # owns the table copy we read: keep it alive meanwhile
    table = _table_copy(_get_pointer(original, native.CAPSULE_NAME.encode()), trailing)
    if name is None:
        _set_name(table, None, length or 0)
    else:
        text = ctypes.create_string_buffer(name, max(len(name), 1))
        _keep.append(text)
        _set_name(table, ctypes.addressof(text), len(name) if length is None else length)
    for field, offset in (("abi_major", 0), ("abi_minor", 4), ("struct_size", 8)):
        if field in u32:
            ctypes.c_uint32.from_buffer(table, offset).value = u32[field]
    return _capsule_of(table, native)


_ids = itertools.count()


def _unique(prefix: str) -> str:
    """A strategy name no other test uses (the registries are process-wide)."""
    return f"{prefix}_{os.getpid()}_{next(_ids)}"


# --- hostile declared strings: one E4007, never a crash ---------------------------------------------


@pytest.mark.parametrize(
    ("name", "length", "needle"),
    [
        (b"x", 2**45, "length 35184372088832 exceeds the limit of 128"),  # aborted the process before
        (None, 7, "NULL pointer with length 7"),
        (b"", None, 'strategy name "" is not a valid name'),
        (b"\xff\xfe", None, "not UTF-8"),
        (b"has space", None, "is not a valid name"),
        (b"9starts_with_digit", None, "is not a valid name"),
        (b"n" * 129, None, "length 129 exceeds the limit of 128"),
    ],
)
def test_hostile_strategy_names_are_e4007(
    sma_plugin: str, native: ModuleType, name: bytes | None, length: int | None, needle: str
) -> None:
    before = set(native.STRATEGY_REGISTRY)
    with pytest.raises(errors.PluginIncompatibleError, match=needle) as info:
        native.register_plugin(forged(native, name, length), "hostile-pkg")
    assert info.value.code == "E4007"
    assert info.value.context["plugin"] == "hostile-pkg"
    assert set(native.STRATEGY_REGISTRY) == before


def test_a_v1_0_table_and_a_newer_minor_register_and_run(
    sma_plugin: str, native: ModuleType, market: pa.Table, sma_config: dict[str, Any]
) -> None:
    expected = bridge.run_rust_backtest(sma_plugin, sma_config, market)
    for minor, size, trailing in ((0, TABLE_V1_0, 0), (1, TABLE_V1_1, 0), (9, TABLE_V1_1 + 32, 32)):
        name = _unique(f"minor{minor}")
        cap = forged(native, name.encode(), trailing=trailing, abi_minor=minor, struct_size=size)
        assert native.register_plugin(cap, f"minor-{minor}-pkg") == name
        info = native.STRATEGY_REGISTRY.get(name)
        assert info["abi_minor"] == minor
        assert info["panic_unwind"] == (None if minor == 0 else True)
        got = bridge.run_rust_backtest(name, sma_config, market)
        assert [t.to_dict() for t in got.trades] == [t.to_dict() for t in expected.trades]
        assert list(got.equity_curve) == list(expected.equity_curve)


def test_a_panic_abort_plugin_is_refused(sma_plugin: str, native: ModuleType) -> None:
    cap = forged(native, _unique("aborting").encode())
    table_address = _get_pointer(cap, native.CAPSULE_NAME.encode())
    ctypes.c_uint64.from_address(table_address + FLAGS_OFFSET).value = 0  # built with panic = "abort"
    with pytest.raises(errors.PluginIncompatibleError, match='panic = "abort"'):
        native.register_plugin(cap, "abort-pkg")


# --- failed registration leaves no state ---------------------------------------------------------


def _plugin(*items: dict[str, Any]) -> Any:
    class Plugin:
        @hookimpl
        def omega_register_strategies(self) -> list[Any]:
            return list(items)

    return Plugin()


def test_spec_capsule_name_mismatch_registers_nothing(sma_plugin: str, native: ModuleType) -> None:
    capsule_name = _unique("capsule_says")
    spec_name = _unique("spec_says")
    cap = forged(native, capsule_name.encode())
    with pytest.raises(errors.InvalidConfigError, match="provides strategy") as info:
        omega.register_plugin(_plugin({"name": spec_name, "version": "1", "package": "pkg-m", "capsule": cap}))
    assert info.value.code == "E4002"
    assert info.value.context["capsule_strategy"] == capsule_name
    assert capsule_name not in native.STRATEGY_REGISTRY
    assert spec_name not in native.STRATEGY_REGISTRY
    with pytest.raises(errors.StrategyNotFoundError):
        omega.get_strategy(spec_name)
    # the capsule's name is still free for a legitimate registration
    specs = omega.register_plugin(_plugin({"name": capsule_name, "version": "1", "package": "pkg-m", "capsule": cap}))
    assert [s.name for s in specs] == [capsule_name]
    assert native.STRATEGY_REGISTRY.get(capsule_name)["provider"] == "pkg-m"


def test_one_bad_capsule_in_a_batch_registers_nothing(sma_plugin: str, native: ModuleType) -> None:
    good = _unique("batch_good")
    bad = _unique("batch_bad")
    items = [
        {"name": good, "version": "1", "package": "pkg-b", "capsule": forged(native, good.encode())},
        {"name": bad, "version": "1", "package": "pkg-b", "capsule": forged(native, bad.encode(), abi_major=2)},
    ]
    with pytest.raises(errors.PluginIncompatibleError, match="ABI major 2") as info:
        omega.register_plugin(_plugin(*items))
    assert info.value.code == "E4007"
    assert good not in native.STRATEGY_REGISTRY
    assert bad not in native.STRATEGY_REGISTRY
    assert good not in {s["name"] for s in omega.list_strategies()}
    # natively too: a batch is all or nothing
    with pytest.raises(errors.PluginIncompatibleError):
        native.register_plugins([(items[0]["capsule"], "pkg-b", good), (items[1]["capsule"], "pkg-b", bad)])
    assert good not in native.STRATEGY_REGISTRY
    with pytest.raises(errors.InvalidConfigError, match="conflicts"):  # a conflict inside the batch
        native.register_plugins([(items[0]["capsule"], "pkg-b", good), (items[0]["capsule"], "pkg-c", good)])
    assert good not in native.STRATEGY_REGISTRY
    assert native.register_plugins([(items[0]["capsule"], "pkg-b", good)]) == [good]


# --- one rule for strategy names ---------------------------------------------------------------------


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=140) | st.from_regex(r"[A-Za-z_][\w.\-]{0,130}"))
def test_the_name_rule_is_the_same_on_both_sides(name: str) -> None:
    native = pytest.importorskip("omega._native")
    assert bool(hookspecs._NAME.fullmatch(name)) == native.valid_strategy_name(name), repr(name)


# --- a dev-profile plugin in the release-built core -----------------------------------------------


def _dev_plugin_library() -> Path:
    """Build the test plugin's cdylib (no Python feature) in Cargo's dev profile; its path."""
    cargo = shutil.which("cargo")
    if cargo is None:
        missing("cargo is not on PATH (needed to build the dev-profile test plugin)")
    out = subprocess.run(
        [cargo, "build", "-p", "omega-test-plugin", "--lib", "--no-default-features", "--message-format=json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    for line in out.stdout.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "omega_test_plugin":
            libs = [f for f in msg["filenames"] if f.endswith((".so", ".dylib", ".dll"))]
            if libs and "/debug/" in libs[0].replace("\\", "/"):
                return Path(libs[0])
    raise AssertionError(f"no dev-profile omega_test_plugin library in cargo's output: {out.stdout[-2000:]}")


def test_a_dev_profile_plugin_runs_in_the_release_core(
    sma_plugin: str, native: ModuleType, market: pa.Table, sma_config: dict[str, Any]
) -> None:
    lib = ctypes.CDLL(str(_dev_plugin_library()))
    _keep.append(lib)  # never unloaded: the registry keeps pointers into it
    entry = lib.omega_strategy_plugin_v1
    entry.restype = ctypes.c_void_p
    table = _table_copy(entry())
    name = _unique("dev_profile_sma")
    text = ctypes.create_string_buffer(name.encode())
    _keep.append(text)
    _set_name(table, ctypes.addressof(text), len(name))  # a registry name of its own
    assert native.register_plugin(_capsule_of(table, native), "omega-test-plugin-dev", name) == name
    got = bridge.run_rust_backtest(name, sma_config, market)
    expected = bridge.run_rust_backtest(sma_plugin, sma_config, market)
    assert len(expected.trades) > 0
    assert [t.to_dict() for t in got.trades] == [t.to_dict() for t in expected.trades]
    assert list(got.equity_curve) == list(expected.equity_curve)
    assert {k: repr(v) for k, v in got.metrics.items()} == {k: repr(v) for k, v in expected.metrics.items()}
