"""Threads that work on one video together: a shared time budget (`Deadline`) whose first failure
stops the others (`Cancelled`), and `gather`, which reports that failure rather than the stops it
caused. Decoding (`wecl.video`), the sound (`wecl.audio`), the backbones (`wecl.features`) and
the annotated MP4 (`explorer.render`) use them."""
from __future__ import annotations

import time
from collections.abc import Callable

from wecl.errors import WECLError


class Cancelled(WECLError):
    """A decoding thread stopped because another one working on the same video failed."""


class Deadline:
    """The time one video's decoding may take (None: no limit), shared by the threads decoding it.

    `check`, called for every decoded frame, raises the budget's message once it has passed, and
    `Cancelled` once another thread has failed (`run` cancels on a failure), so that no thread
    decodes on for a result nobody will use."""

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.at = None if seconds is None else time.monotonic() + seconds
        self.cancelled = False

    def check(self, path: str) -> None:
        if self.cancelled:
            raise Cancelled(f"{path}: decoding stopped, another part of it failed")
        if self.at is not None and time.monotonic() > self.at:
            raise WECLError(f"{path}: analysing it took longer than the {self.seconds:g} s this video may take "
                            "(WECL_TIME_BUDGET); the file is too long or too hard to decode")

    def run(self, fn: Callable, *args, **kwargs):
        """fn(*args, **kwargs), one of the threads working on this video: its failure cancels the others."""
        try:
            return fn(*args, **kwargs)
        except BaseException:
            self.cancelled = True
            raise


def gather(futures: list) -> list:
    """The futures' results; else their first failure, in order, that is not a `Cancelled`
    (which only says that another one failed)."""
    failures = [e for e in (f.exception() for f in futures) if e is not None]
    real = [e for e in failures if not isinstance(e, Cancelled)]
    if failures:
        raise (real or failures)[0]
    return [f.result() for f in futures]
