"""What both tabs use: the device and thread settings read once per process, the error
decorator, each browser session's output folder, and named outputs that can skip."""
from __future__ import annotations

import functools
import hashlib
import logging
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import TypeVar

import gradio as gr
import torch

from explorer.policy import public_message
from wecl.device import resolve_device, resolve_precision
from wecl.errors import WECLError, release
from wecl.settings import settings

try:  # ZeroGPU Spaces: borrow a GPU for the duration of a prediction
    import spaces

    gpu = spaces.GPU
except ImportError:
    def gpu(fn):
        return fn

# Files the app writes (downloads, annotated MP4s) go under the system temp dir, which Gradio
# serves by default; nothing else outside the app's folders is ever served.
OUTPUT_ROOT = Path(tempfile.gettempdir()) / "wecl-explorer"
CLEAN_EVERY_S = 600


def set_threads() -> int:
    """Torch's thread count, set once per process when the app is created (WECL_THREADS, default
    every core), never per request: torch.set_num_threads also sets MKL's count, which is
    process-wide, so a request setting 1 for its heads would drop a running backbone or dataset
    worker to one thread. -> the count."""
    threads = settings().threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    return threads
KEYFRAME_CHOICES = [("eq. 9: A*v ≥ θ and A*a ≥ θ (the paper's)", "eq9"),
                    ("eq. 9, else the peak of min(A*v, A*a)", "eq9-fallback"),
                    ("min(A*v, A*a) renormalised ≥ θ", "min-joint"),
                    ("A*v + A*a renormalised ≥ θ (one joint map)", "sum-joint"),
                    ("A*v ≥ θ or A*a ≥ θ (a mask per modality)", "per-modality"),
                    ("fused: mean A* ≥ θ, every erasing round", "fused")]
STRIP_COLUMNS = 5  # thumbnails per row: two rows of five keep T = 10 readable
log = logging.getLogger("wecl.app")

Outputs = TypeVar("Outputs", bound=tuple)


def skipping(outputs: type[Outputs], **values) -> Outputs:
    """A handler's named outputs (a NamedTuple class) with `values` set and every other component
    left as it is."""
    return outputs(**{**dict.fromkeys(outputs._fields, gr.skip()), **values})


# The message of each session's last failed request, so that a `.failure` listener can keep it on
# the page (an error toast vanishes); the oldest sessions are forgotten first.
_last_errors: OrderedDict[str, str] = OrderedDict()
_last_errors_lock = threading.Lock()
MAX_REMEMBERED_ERRORS = 1000


def last_error(request: gr.Request | None) -> str | None:
    """The message of this session's last failed request (forgotten once read)."""
    with _last_errors_lock:
        return _last_errors.pop(str(getattr(request, "session_hash", None)), None)


def _remember_error(args, kwargs, message: str) -> None:
    request = next((a for a in (*args, *kwargs.values()) if isinstance(a, gr.Request)), None)
    if getattr(request, "session_hash", None):
        with _last_errors_lock:
            _last_errors[str(request.session_hash)] = message
            _last_errors.move_to_end(str(request.session_hash))
            while len(_last_errors) > MAX_REMEMBERED_ERRORS:
                _last_errors.popitem(last=False)


def user_errors(fn):
    """WECLError -> gr.Error with its message; anything else -> a short gr.Error, trace in the log.

    The gr.Error is raised outside the except blocks, so it carries no `__context__`, and the
    failure's frames are cleared (`errors.release`): nothing of a failed request (its decoders,
    its frames) outlives it, in Gradio's session state or in a reference cycle. Server paths in
    the message are cut to file names (`policy.public_message`). The message is also kept for the
    session (`last_error`)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except WECLError as error:
            message = str(error)
            release(error)
        except Exception as error:
            log.exception("unexpected error in %s", fn.__name__)
            message = f"Unexpected error ({type(error).__name__}): {error}"
            release(error)
        message = public_message(message)
        _remember_error(args, kwargs, message)
        raise gr.Error(message, print_exception=False)
    return wrapper


def warn(error: WECLError, consequence: str) -> None:
    """A problem that leaves part of the views out, as a warning (server paths cut to file names,
    as `user_errors` cuts them): "<the problem>; <consequence>"."""
    gr.Warning(f"{public_message(str(error))}; {consequence}")


def device_label() -> str:
    device = resolve_device(settings().device)
    precision = resolve_precision(settings().precision, device)
    if device.type == "cuda":
        return f"GPU · {torch.cuda.get_device_name(device)} · backbones in {precision}"
    return f"CPU · {torch.get_num_threads()} threads · backbones in {precision}"


_last_clean = [0.0]


def session_dir(request: gr.Request | None) -> Path:
    """This browser session's folder for the files it downloads; old folders are swept on the way
    (at most every CLEAN_EVERY_S), and a session's own folder goes when the session ends."""
    if time.time() - _last_clean[0] > CLEAN_EVERY_S:
        _last_clean[0] = time.time()
        clean_outputs()
    folder = _session_folder(request)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _session_folder(request: gr.Request | None) -> Path:
    """OUTPUT_ROOT/<digest of the session id>: never empty, never the root, never shared by two
    ids (a client chooses its session id; `-` once named the root itself)."""
    name = str(getattr(request, "session_hash", None) or "shared")
    return OUTPUT_ROOT / hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def end_session(request: gr.Request) -> None:
    """A browser tab closed: its downloads and annotated videos go with it (only a folder that
    lies directly under OUTPUT_ROOT is ever removed)."""
    if not getattr(request, "session_hash", None):
        return
    folder = _session_folder(request)
    root = OUTPUT_ROOT.resolve()
    if folder.resolve().parent == root and folder.resolve() != root:
        shutil.rmtree(folder, ignore_errors=True)


def clean_outputs(max_age_s: float | None = None) -> None:
    """Drop session folders of earlier runs that nobody has touched for a while (WECL_OUTPUT_MAX_AGE)."""
    max_age_s = settings().output_max_age_s if max_age_s is None else max_age_s
    if not OUTPUT_ROOT.is_dir():
        return
    for folder in OUTPUT_ROOT.iterdir():
        try:
            if time.time() - folder.stat().st_mtime > max_age_s:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass
