"""Every `WECL_*` setting, in one frozen object read from the environment once: the first time
`settings()` is asked, never at import. Its fields follow the limits table of docs/hosting.md row
for row (then the settings that are not limits), each named after its variable.

Code reads `settings().max_duration_s`; a test changes one for its own duration with
`with use(max_duration_s=2.0): ...` (or `monkeypatch.setattr(settings_module, "current", ...)`),
never a module constant. A child process (a Ray worker) gets the same settings from `environment()`.
"""
from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path

MB = 2**20


def _number(kind):
    return lambda text: kind(float(text)) if kind is int and "." in text else kind(text)


def _paths(text: str) -> tuple[str, ...]:
    return tuple(p for p in text.split(os.pathsep) if p)


def _names(text: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in text.split(",") if a.strip())


def _setting(variable: str, default, parse=None):
    """A field read from `variable` (parsed by `parse`, else by the default's type)."""
    return field(default=default, metadata={"variable": variable, "parse": parse or _number(type(default))})


@dataclass(frozen=True)
class Settings:
    # --- docs/hosting.md, "Limits", row by row ---------------------------------------------
    # upload size: per upload request (all its files), per client address an hour, free disk
    max_upload: str = _setting("WECL_MAX_UPLOAD", "200mb", str)
    upload_budget_mb: float = _setting("WECL_UPLOAD_BUDGET_MB", 1024.0)
    min_free_disk_mb: float = _setting("WECL_MIN_FREE_DISK_MB", 1024.0)
    # the queue: predictions and renders waiting app-wide; proxies in front of the app
    max_waiting_predictions: int = _setting("WECL_MAX_WAITING_PREDICTIONS", 16)
    max_waiting_renders: int = _setting("WECL_MAX_WAITING_RENDERS", 4)
    proxy_hops: int = _setting("WECL_PROXY_HOPS", 1)
    # any other request body
    max_body_mb: float = _setting("WECL_MAX_BODY_MB", 2.0)
    # sessions whose state Gradio keeps, and how long a session's output files are kept
    sessions: int = _setting("WECL_SESSIONS", 500)
    output_max_age_s: float = _setting("WECL_OUTPUT_MAX_AGE", 6 * 3600.0)
    # video duration / picture side / aspect ratio
    max_duration_s: float = _setting("WECL_MAX_DURATION", 3600.0)
    max_side_px: int = _setting("WECL_MAX_SIDE", 8192)
    max_aspect: float = _setting("WECL_MAX_ASPECT", 8.0)
    # pixels of one decoded picture (None: the square of the largest side)
    max_pixels: int | None = _setting("WECL_MAX_PIXELS", None, int)
    # packets of a file
    max_packets: int = _setting("WECL_MAX_PACKETS", 2_000_000)
    # analysis time per video
    time_budget_s: float = _setting("WECL_TIME_BUDGET", 120.0)
    # annotated MP4: seconds of video, source pixels, seconds of rendering
    max_render_s: float = _setting("WECL_MAX_RENDER", 600.0)
    max_render_work: float = _setting("WECL_MAX_RENDER_WORK", 1280 * 720 * 30 * 600.0)
    render_budget_s: float = _setting("WECL_RENDER_BUDGET", 300.0)
    # feature cache on disk (and where it is), and in memory
    cache_max_mb: float = _setting("WECL_CACHE_MAX", 2048.0)
    cache: str = _setting("WECL_CACHE", "~/.cache/wecl", str)
    memory_cache_mb: float = _setting("WECL_MEMORY_CACHE_MB", 512.0)
    # annotation (and score) files: bytes; videos and segments (CSV: rows)
    max_annotation_mb: float = _setting("WECL_MAX_ANNOTATION_MB", 16.0)
    max_annotation_items: int = _setting("WECL_MAX_ANNOTATION_ITEMS", 200_000)
    # dataset folder scan
    max_scanned: int = _setting("WECL_MAX_SCANNED", 200_000)
    # torch threads (0: torch's own count)
    threads: int = _setting("WECL_THREADS", 0)
    # --- what a hosted app may load, and the rest ------------------------------------------
    checkpoints_allow: tuple[str, ...] = _setting("WECL_CHECKPOINTS_ALLOW", (), _names)
    dataset_roots: tuple[str, ...] = _setting("WECL_DATASET_ROOTS", (), _paths)
    device: str = _setting("WECL_DEVICE", "auto", str)
    precision: str = _setting("WECL_PRECISION", "auto", str)
    face_detect_side: int = _setting("WECL_FACE_DETECT_SIDE", 480)
    max_shard_mb: float = _setting("WECL_MAX_SHARD_MB", 1024.0)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """The settings `environ` (default: this process's environment) gives; a value that cannot
        be read is a WECLError naming its variable."""
        from wecl.errors import WECLError

        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            text = environ.get(f.metadata["variable"], "").strip()
            if not text:
                continue
            try:
                values[f.name] = f.metadata["parse"](text)
            except ValueError:
                raise WECLError(f"{f.metadata['variable']}={text!r} is not a valid value") from None
        return cls(**values)

    # derived values, in the units the code uses
    @property
    def cache_root(self) -> Path:
        return Path(self.cache).expanduser()

    @property
    def pixels(self) -> int:
        return self.max_side_px * self.max_side_px if self.max_pixels is None else self.max_pixels


current: Settings | None = None
_lock = threading.Lock()


def settings() -> Settings:
    """This process's settings, read from the environment the first time they are asked for."""
    global current
    if current is None:
        with _lock:
            if current is None:
                current = Settings.from_environment()
    return current


def configure(**changes) -> Settings:
    """Change this process's settings from here on (scripts and benchmarks; tests use `use`)."""
    global current
    current = dataclasses.replace(settings(), **changes)
    return current


@contextmanager
def use(**changes) -> Iterator[Settings]:
    """These settings changed while the block runs (tests)."""
    global current
    before = settings()
    current = dataclasses.replace(before, **changes)
    try:
        yield current
    finally:
        current = before


def environment(extra_prefixes: tuple[str, ...] = ("HF_",)) -> dict[str, str]:
    """The variables a child process needs to see these settings (and the Hub's `HF_*` ones)."""
    now, out = settings(), {}
    for f in fields(Settings):
        value = getattr(now, f.name)
        if value == f.default or value is None:
            continue
        if isinstance(value, tuple):
            value = (os.pathsep if f.name == "dataset_roots" else ",").join(value)
        out[f.metadata["variable"]] = str(value)
    out.update({k: v for k, v in os.environ.items() if k.startswith(extra_prefixes)})
    return out
