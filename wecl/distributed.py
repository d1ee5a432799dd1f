"""Dataset runs on Ray Data (`batch --ray`, `extract --ray`): past one process and one machine.

Decoding and MFCC run as CPU tasks; the backbones (and, for `batch`, the heads) run in a pool of
actors, one per GPU, or one per 8 CPU cores. The driver alone writes: the same results database
and feature cache (`batch`) or feature store (`extract`) as the single-process path, committed
as each video arrives, so a stopped run resumes the same way. Rows cross process boundaries
pickled, between this project's own processes only.

Ray is optional (`pip install -r requirements-ray.txt`): it is imported only here, only with --ray.
"""
from __future__ import annotations

import dataclasses
import os
import pickle
import time
from pathlib import Path
from typing import Iterator

import torch

from wecl.batch import BatchStats, plan
from wecl.checkpoints import PROJECT_ROOT
from wecl.config import WECLConfig
from wecl.errors import WECLError, describe
from wecl.features import cache, prepare_inputs, run_backbones
from wecl.inference import explain
from wecl.model import WECL
from wecl.progress import Progress
from wecl.results_db import ResultsDB
from wecl.settings import environment
from wecl.training.datasets import Dataset, VideoItem
from wecl.training.extract import ExtractStats, backbone_arrays, decode_video, plan_extract


def connect(address: str | None = None):
    """The Ray module, connected: to the cluster at `address`, or to a new local Ray (None)."""
    try:
        import ray
    except ImportError:
        raise WECLError("--ray needs Ray, which is not installed: pip install -r requirements-ray.txt") from None
    if not ray.is_initialized():
        # Workers import wecl from this checkout and see this process's WECL_/HF_ settings.
        paths = [str(PROJECT_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        env = environment()  # the WECL_ settings of this process, and its HF_ variables
        # Decoding tasks and actors share a node's cores (see `_pool`): OpenMP threads that spin
        # while they wait take those cores from each other (2 cores: a 20-video run 50 s -> 39 s).
        env["OMP_WAIT_POLICY"] = os.environ.get("OMP_WAIT_POLICY", "PASSIVE")
        try:
            # "local": a Ray of its own, never a cluster found through RAY_ADDRESS or /tmp/ray (which
            # would also receive this process's HF_TOKEN)
            ray.init(address=address or "local", include_dashboard=False, log_to_driver=False, configure_logging=False,
                     runtime_env={"env_vars": {**env, "PYTHONPATH": os.pathsep.join(paths)}})
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise WECLError(f"--ray {address or ''}: cannot start or reach Ray ({error})".replace("  ", " ")) from None
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the CLI has its own bar
    context.print_on_execution_start = False
    return ray


# Decoding tasks: half a CPU each (a decoder waits on memory and I/O part of the time) and a
# memory reservation. Their options differ from the actors', which also keeps Ray from fusing
# decoding into the actors: it would then run in series with the backbones instead of beside them.
DECODE_TASK = {"num_cpus": 0.5, "memory": 512 << 20}


def _pool(ray, device: str) -> tuple[dict, int]:
    """Actor-pool options and each actor's torch threads: one actor per GPU; on CPUs one per 8
    cores, each reserving one CPU (the rest is left to decoding tasks) but running torch on its
    share of the cores, as one process does (its threads and the decoders share them)."""
    resources = ray.cluster_resources()
    if device != "cpu" and resources.get("GPU", 0) >= 1:
        return {"concurrency": int(resources["GPU"]), "num_gpus": 1}, 1
    cpus = max(1, int(resources.get("CPU", 1)))
    actors = max(1, cpus // 8)
    return {"concurrency": actors, "num_cpus": 1}, max(1, cpus // actors)


def _spec(model) -> tuple[str, str | None]:
    """How a worker loads the driver's checkpoint: its folder, or its Hub id at the same commit."""
    ref = model.checkpoint
    return (ref.id, ref.revision) if ref.revision else (str(ref.path), None)


def _load(spec: str, revision: str | None, device: str, precision: str, threads: int) -> WECL:
    """An actor's model: a copy of its own, outside the model cache, so its backbones are not
    hashed for sharing (the driver keys the feature cache)."""
    torch.set_num_threads(threads)
    model = WECL.from_pretrained(spec, revision, device=device)
    model.precision = precision
    return model


# --- batch ---------------------------------------------------------------------------------------

def _prepare(row: dict, config: dict) -> dict:
    try:
        return {"path": row["path"], "payload": pickle.dumps(prepare_inputs(row["path"], WECLConfig.from_dict(config))),
                "error": ""}
    except Exception as error:  # noqa: BLE001 - one broken file never stops a dataset run
        return {"path": row["path"], "payload": b"", "error": describe(error, f"{row['path']}: ")}


class _Predictor:
    """A Ray actor: the checkpoint loaded once; backbones and heads on prepared inputs."""

    def __init__(self, spec: str, revision: str | None, device: str, precision: str, theta: float, rounds: int,
                 rule: str, threads: int):
        self.model = _load(spec, revision, device, precision, threads)
        self.settings = (theta, rounds, rule)

    def __call__(self, row: dict) -> dict:
        if row["error"]:
            return {**row, "features": b"", "result": ""}
        try:
            features = run_backbones(pickle.loads(row["payload"]), self.model)
            result = explain(features, self.model, *self.settings).json
            return {"path": row["path"], "payload": b"", "error": "", "features": pickle.dumps(features),
                    "result": pickle.dumps(result)}
        except Exception as error:  # noqa: BLE001
            return {**row, "payload": b"", "error": describe(error, f"{row['path']}: "), "features": b"", "result": ""}


def run_batch_ray(videos: list[Path], model: WECL, db: ResultsDB, theta: float | None = None, rounds: int = 1,
                  keyframe_rule: str | None = None, address: str | None = None,
                  progress: Progress | None = None) -> BatchStats:
    """`batch.run_batch` on Ray: the same rows in the same database, the same feature cache."""
    run = plan(videos, model, db, theta, rounds, keyframe_rule, progress)
    digests, remote = {}, []
    for path, digest in run.todo:  # features already cached here: the heads alone, on the driver
        features = cache.get(str(path), model)
        if features is None:
            digests[str(path)] = (path, digest)
            remote.append({"path": str(path)})
        else:
            run.keep(path, digest, explain(features, model, run.theta, run.rounds, run.rule).json)
    if remote:
        ray = connect(address)
        spec, revision = _spec(model)
        device = model.device.type
        dataset = ray.data.from_items(remote, override_num_blocks=len(remote)).map(
            _prepare, fn_kwargs={"config": model.config.to_dict()}, **DECODE_TASK)
        pool, threads = _pool(ray, device)
        dataset = dataset.map(_Predictor, fn_constructor_kwargs={
            "spec": spec, "revision": revision, "device": device, "precision": model.backbone_precision,
            "theta": run.theta, "rounds": run.rounds, "rule": run.rule, "threads": threads}, **pool)
        for row in _rows(dataset):
            path, digest = digests[row["path"]]
            if row["error"]:
                run.fail(path, row["error"])
            else:
                cache.put(str(path), model, pickle.loads(row["features"]))
                run.keep(path, digest, pickle.loads(row["result"]))
    return run.finish()


def _rows(dataset) -> Iterator[dict]:
    """The dataset's rows as each block is done. `iter_rows` fetches one block ahead, so each
    finished video would reach the driver (and the database) only once the next one is done too."""
    for block in dataset.iter_batches(batch_size=None, prefetch_batches=0, batch_format="pyarrow"):
        yield from block.to_pylist()


# --- extract -------------------------------------------------------------------------------------

def _decode(row: dict, config: dict, views: int, seed: int) -> dict:
    item = pickle.loads(row["item"])
    try:
        return {**row, "payload": pickle.dumps(decode_video(item, WECLConfig.from_dict(config), views, seed)), "error": ""}
    except Exception as error:  # noqa: BLE001
        return {**row, "payload": b"", "error": describe(error)}


class _Extractor:
    """A Ray actor: the checkpoint's backbones on every view of decoded videos."""

    def __init__(self, spec: str, revision: str | None, device: str, precision: str, threads: int):
        self.model = _load(spec, revision, device, precision, threads)

    def __call__(self, row: dict) -> dict:
        if row["error"]:
            return {**row, "arrays": b"", "seconds": 0.0}
        start = time.perf_counter()
        try:
            decoded = pickle.loads(row["payload"])
            arrays = backbone_arrays(self.model, decoded)
            # the driver needs no pixels back
            light = dataclasses.replace(decoded, clips=[], patches=None, thumbnails=decoded.thumbnails[:0])
            return {**row, "payload": pickle.dumps(light), "arrays": pickle.dumps(arrays),
                    "seconds": time.perf_counter() - start}
        except Exception as error:  # noqa: BLE001 - the pixels need not travel back with the message
            return {**row, "payload": b"", "error": describe(error), "arrays": b"", "seconds": 0.0}


def extract_ray(dataset: Dataset, model: WECL, out_dir: str | os.PathLike, views: int = 3, seed: int = 0,
                items: list[VideoItem] | None = None, progress: Progress | None = None,
                address: str | None = None) -> ExtractStats:
    """`extract.extract` on Ray: the same feature files, manifest and errors.log, resumable."""
    run = plan_extract(dataset, model, out_dir, views, seed, items, progress)
    if run.todo:
        ray = connect(address)
        spec, revision = _spec(model)
        device = model.device.type
        rows = [{"video_id": item.video_id, "item": pickle.dumps(item)} for item in run.todo]
        data = ray.data.from_items(rows, override_num_blocks=len(rows)).map(_decode, fn_kwargs={"config": model.config.to_dict(),
                                                                                                "views": views, "seed": seed},
                                                                            **DECODE_TASK)
        pool, threads = _pool(ray, device)
        data = data.map(_Extractor, fn_constructor_kwargs={"spec": spec, "revision": revision, "device": device,
                                                          "precision": model.backbone_precision, "threads": threads}, **pool)
        for row in _rows(data):
            item = pickle.loads(row["item"])
            if row["error"]:
                run.fail(item, row["error"])
            else:
                run.keep(item, pickle.loads(row["payload"]), pickle.loads(row["arrays"]), row["seconds"])
    return run.finish()
