"""Bit-reproducibility: the same videos, weights and config give byte-identical features in any
process, and training from the same features and seed gives a byte-identical checkpoint.

Two things used to depend on the CPUs a process may use (not on the thread count the project
sets): how far ahead of a clip the decoder skips non-reference frames (FFmpeg's frame threads
follow the CPU count) and the mel projection of the MFCC (OpenBLAS threads). The second process
here runs with other hash seeds, decode workers and, where the OS allows, a single allowed CPU."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from helpers import REPO, tiny_config

pytestmark = pytest.mark.slow


def _wecl(*args, env=None, one_cpu=False) -> None:
    pin = ((lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}))
           if one_cpu and hasattr(os, "sched_setaffinity") else None)
    done = subprocess.run([sys.executable, "-m", "wecl", *map(str, args)], cwd=REPO, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=600, preexec_fn=pin)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from wecl import checkpoints
    from wecl.model import WECL
    from wecl.training.synth import generate

    root = tmp_path_factory.mktemp("repro")
    generate(root / "videos", 8, seed=3, duration_range=(4.0, 6.0), size=(96, 72))
    import torch

    torch.manual_seed(0)
    checkpoints.save(WECL(tiny_config(classes=["anger", "joy", "sadness", "surprise"], relation_dim=16)), root / "source")
    return root


def _arrays(store) -> dict[str, dict[str, bytes]]:
    out = {}
    for path in sorted((store / "features").glob("*.npz")):
        with np.load(path) as d:
            out[path.name] = {k: d[k].tobytes() for k in ("visual", "audio", "spans")}
    return out


def test_extraction_is_byte_identical_across_processes(data, tmp_path):
    common = ["extract", data / "videos", "--checkpoint", data / "source", "--views", "3"]
    _wecl(*common, "--out", tmp_path / "a", "--workers", "2", env={"PYTHONHASHSEED": "1"})
    _wecl(*common, "--out", tmp_path / "b", "--workers", "1", env={"PYTHONHASHSEED": "2"}, one_cpu=True)
    a, b = _arrays(tmp_path / "a"), _arrays(tmp_path / "b")
    assert len(a) == 8 and a.keys() == b.keys()
    different = [(name, key) for name in a for key in a[name] if a[name][key] != b[name][key]]
    assert different == []


def test_training_is_byte_identical_across_processes(data, tmp_path):
    store = tmp_path / "store"
    _wecl("extract", data / "videos", "--checkpoint", data / "source", "--views", "2", "--out", store)
    common = ["train", store, "--epochs", "5", "--optimizer", "adam", "--lr", "3e-3", "--batch-size", "4",
              "--restarts", "2", "--seed", "7", "--quiet"]
    _wecl(*common, "--out", tmp_path / "a", env={"PYTHONHASHSEED": "1"})
    _wecl(*common, "--out", tmp_path / "b", env={"PYTHONHASHSEED": "2"})
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()
