"""Shared fixtures: test media made with the ffmpeg CLI, a tiny WECL checkpoint, and an isolated
cache. Nothing here (or in any test) reaches the network or writes to ~/.cache."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from helpers import EXTENSIONS, free_port, make_media, tiny_config

# The Hub must never be contacted: offline mode, a dead endpoint as a second guard, and a private
# HF_HOME. Set at import time because huggingface_hub reads these when it is first imported.
_HF_HOME = tempfile.mkdtemp(prefix="wecl-test-hf-")
atexit.register(shutil.rmtree, _HF_HOME, True)
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_ENDPOINT"] = "http://127.0.0.1:9"
os.environ["HF_HOME"] = _HF_HOME
os.environ["HF_HUB_CACHE"] = os.path.join(_HF_HOME, "hub")
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"


@pytest.fixture(scope="session", autouse=True)
def wecl_cache(tmp_path_factory) -> Path:
    """WECL_CACHE points at a session tmp folder (features are written there, never ~/.cache)."""
    from wecl import settings as module

    folder = tmp_path_factory.mktemp("wecl-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WECL_CACHE", str(folder))
        mp.setattr(module, "current", None)  # read again, with it
        yield folder


@pytest.fixture
def limits(monkeypatch):
    """One test's settings (`wecl.settings`): `limits(max_duration_s=2.0)` changes them in this
    process until the test ends, as `WECL_MAX_DURATION=2` would."""
    import dataclasses

    from wecl import settings as module

    def change(**changes) -> None:
        monkeypatch.setattr(module, "current", dataclasses.replace(module.settings(), **changes))

    return change


@pytest.fixture
def wecl_env(monkeypatch):
    """`wecl_env(WECL_CACHE=...)`: set WECL_ variables for this test, in this process (its settings
    are read again) and in the processes it starts."""
    from wecl import settings as module

    def change(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(module, "current", None)

    return change


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    """`media(kind) -> Path`: a test file made once per session (see `_make` for the kinds)."""
    folder = tmp_path_factory.mktemp("media")
    work = tmp_path_factory.mktemp("media-src")
    made: dict[str, Path] = {}

    def get(kind: str) -> Path:
        if kind not in made:
            out = folder / f"{kind}{EXTENSIONS.get(kind, '.mp4')}"
            make_media(kind, out, work)
            made[kind] = out
        return made[kind]

    return get


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A folder holding a tiny random WECL (3D/2D ResNet-10 at 1/8 width) in the project format."""
    import torch

    from wecl.model import WECL

    torch.manual_seed(0)
    model = WECL(tiny_config())
    # Non-zero residual weights, so that the relation heads do something in every test.
    with torch.no_grad():
        for name, p in model.heads.named_parameters():
            if name.endswith(("w_z.weight", "w_v.weight", "w_a.weight")):
                p.normal_(0, 0.02)
    folder = tmp_path_factory.mktemp("tiny-checkpoint")
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tiny_checkpoint):
    """The tiny checkpoint loaded with `WECL.from_pretrained` (shared: do not modify it)."""
    from wecl.model import WECL

    return WECL.from_pretrained(tiny_checkpoint)


@pytest.fixture(scope="module")
def app_url():
    """The real explorer (app.create(), the launch options of `python app.py`) on a free localhost
    port; its feature cache is the session's tmp WECL_CACHE and the Hub is offline (above)."""
    import app

    demo = app.create()
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True,
                **app.launch_options())
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
