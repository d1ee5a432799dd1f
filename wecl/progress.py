"""Progress reports: the callback type long work takes, and a text bar for the CLI."""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Callable

# Every long piece of work reports through one callback type: progress(done, total, what), `done`
# of `total` steps (a fraction is `done` of 1.0) and what it is doing now.
Progress = Callable[[float, float, str], None]


def silent(done: float, total: float, what: str) -> None:
    """A `Progress` that reports nothing."""


@contextmanager
def bar(total: int, label: str, stream=sys.stderr):
    """`with bar(n, "extract") as tick: work(progress=tick)` draws `label [#####.....] done/total eta`;
    `tick` is a `Progress` whose total is `total` (the one it is given is not needed)."""
    start = time.monotonic()
    interactive = stream.isatty()
    shown = {"decile": -1}

    def tick(done: float, _total: float = total, what: str = "") -> None:
        done = int(done)
        frac = done / total if total else 1.0
        if not interactive:  # a log file gets one line per 10 %, not a redraw per item
            decile = int(frac * 10)
            if decile == shown["decile"]:
                return
            shown["decile"] = decile
        elapsed = time.monotonic() - start
        eta = elapsed / frac - elapsed if frac > 0 else 0.0
        filled = int(frac * 30)
        stream.write(("\r" if interactive else "")
                     + f"{label} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}  {elapsed:5.1f} s, eta {eta:5.1f} s"
                     + ("" if interactive else "\n"))
        stream.flush()

    tick(0)
    try:
        yield tick
    finally:
        if interactive:
            stream.write("\n")
        stream.flush()
