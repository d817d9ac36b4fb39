"""Progress bars (tqdm) for long Python-side work, such as a run on the Python backend.

A bar appears only after `SHOW_AFTER_S` seconds, so short runs stay silent, and only when someone
can see it: stderr is a terminal or the code runs in a notebook. ``OMEGA_PROGRESS=0``/``1``
overrides the detection; an explicit ``progress=`` argument overrides both.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

SHOW_AFTER_S = 1.0
"""Seconds before a bar is drawn (tqdm's ``delay``)."""


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ip = getattr(shell, "get_ipython", lambda: None)()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def wanted(setting: bool | None = None, stream: TextIO | None = None) -> bool:
    """Whether to show progress: `setting` if given, else ``OMEGA_PROGRESS``, else terminal/notebook."""
    if setting is not None:
        return setting
    env = os.environ.get("OMEGA_PROGRESS", "").strip().lower()
    if env in ("0", "false", "no", "off"):
        return False
    if env in ("1", "true", "yes", "on"):
        return True
    out = sys.stderr if stream is None else stream
    return _in_notebook() or bool(out is not None and out.isatty())


def _tqdm_class() -> Any:
    if _in_notebook() and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm as notebook_tqdm

        return notebook_tqdm
    from tqdm import tqdm

    return tqdm


@contextmanager
def bar(
    total: int, desc: str, setting: bool | None = None, *, stream: TextIO | None = None
) -> Iterator[Callable[[int], None] | None]:
    """A progress callback ``update(done)`` for `total` steps, or None when no bar is wanted."""
    if not wanted(setting, stream):
        yield None
        return
    tqdm = _tqdm_class()
    with tqdm(total=total, desc=desc, unit="bar", unit_scale=True, delay=SHOW_AFTER_S, file=stream) as t:

        def update(done: int) -> None:
            t.update(done - t.n)

        yield update
        t.update(total - t.n)
