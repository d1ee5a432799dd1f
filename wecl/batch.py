"""Predictions for every video of a folder, resumable through the results database.

Decoding and MFCC of the next videos run in worker threads (PyAV and numpy release the GIL) while
the main thread runs the backbones (on the GPU when there is one); features come from and go to
the core's feature cache; every finished prediction is committed to the database at once, so a
killed run loses at most the videos in flight.
"""
from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from wecl.annotations import VIDEO_EXTENSIONS, atomic_write_text, video_id
from wecl.detection import check_rule
from wecl.errors import WECLError
from wecl.evaluate import prediction_of, write_prediction_file
from wecl.inference import (cached_features, explain, prepare_inputs, run_backbones, source_of, store_features,
                            video_hash)
from wecl.model import WECL
from wecl.store import ResultStore



MAX_SCANNED = int(os.environ.get("WECL_MAX_SCANNED", 200_000))  # files and folders looked at, at most


def list_videos(folder: str | Path) -> list[Path]:
    """Video files under `folder` (recursively, hidden folders such as .wecl left out), by
    extension, in a stable order. Unreadable sub-folders are skipped; a tree of more than
    MAX_SCANNED entries (a dataset folder of "/") is refused with a message, not walked for minutes."""
    folder = Path(folder)
    try:
        if not folder.is_dir():
            raise WECLError(f"{str(folder)[:200]}: no such folder")
    except OSError as error:  # a name too long, a loop of links
        raise WECLError(f"{str(folder)[:200]}: cannot open this folder ({error.strerror})") from None
    found, scanned = [], 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        scanned += len(dirs) + len(files)
        if scanned > MAX_SCANNED:
            raise WECLError(f"{folder}: more than {MAX_SCANNED:,} files and folders below it; "
                            "point at the dataset's own folder")
        found += [Path(root) / f for f in files if Path(f).suffix.lower() in VIDEO_EXTENSIONS]
    return sorted(p for p in found if p.is_file())


@dataclass
class BatchStats:
    total: int = 0
    computed: int = 0  # predictions made in this run
    reused: int = 0  # already in the database: nothing recomputed
    failed: int = 0
    stopped: bool = False
    seconds: float = 0.0
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def videos_per_second(self) -> float:
        return self.computed / self.seconds if self.seconds > 0 else 0.0


def plan(videos: list[Path], model: WECL, store: ResultStore, theta: float, rounds: int, rule: str,
         stats: BatchStats) -> list[tuple[Path, str]]:
    """(path, content hash) of the videos with no result yet for these settings; the others are
    counted in `stats` as reused, or failed when they cannot be read."""
    checkpoint, todo = source_of(model), []
    for path in videos:
        try:
            digest = video_hash(str(path))
        except OSError as error:
            stats.failed += 1
            stats.failures[str(path)] = f"{path}: cannot read ({error.strerror})"
            continue
        if store.get(digest, checkpoint, theta, rounds, rule) is not None:
            stats.reused += 1
        else:
            todo.append((path, digest))
    return todo


def failure_recorder(model: WECL, store: ResultStore, theta: float, rounds: int, rule: str, stats: BatchStats):
    """`record(path, message)`: count a failed video and keep its message in the database."""
    checkpoint = source_of(model)

    def record(path: Path, message: str) -> None:
        stats.failed += 1
        stats.failures[str(path)] = message
        store.fail(str(path), checkpoint, theta, rounds, rule, message)
    return record


def keep_result(store: ResultStore, path: Path, digest: str, result: dict) -> None:
    """Commit one prediction under the file's own path and id."""
    result["video"]["path"] = str(path)
    result["video_id"] = video_id(path.name)
    store.put(digest, result["video_id"], result)


def run_batch(
    videos: list[Path],
    model: WECL,
    store: ResultStore,
    theta: float | None = None,
    rounds: int = 1,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
    keyframe_rule: str | None = None,
) -> BatchStats:
    """Predict every video not yet in `store` for this checkpoint; bad videos are recorded and skipped.
    Setting `stop` ends the run after the video in hand (`stats.stopped`); what is done is kept."""
    theta = model.config.theta if theta is None else float(theta)
    rule = check_rule(model.config.keyframe_rule if keyframe_rule is None else keyframe_rule)
    stats = BatchStats(total=len(videos))
    start = time.perf_counter()
    progress = progress or (lambda done, total: None)
    todo = plan(videos, model, store, theta, rounds, rule, stats)
    done = stats.reused + stats.failed
    progress(done, stats.total)
    record_failure = failure_recorder(model, store, theta, rounds, rule, stats)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending: deque[tuple[Path, str, Future | object]] = deque()
        queue = iter(todo)

        def refill() -> None:
            while len(pending) < max(1, workers) + 1:
                item = next(queue, None)
                if item is None:
                    return
                path, digest = item
                features = cached_features(str(path), model)
                job = features if features is not None else pool.submit(prepare_inputs, str(path), model.config)
                pending.append((path, digest, job))

        refill()
        while pending:
            if stop is not None and stop.is_set():
                stats.stopped = True
                for _, _, job in pending:
                    if isinstance(job, Future):
                        job.cancel()
                break
            path, digest, job = pending.popleft()
            refill()
            try:
                if isinstance(job, Future):
                    features = run_backbones(job.result(), model)
                    store_features(str(path), model, features)
                else:
                    features = job
                keep_result(store, path, digest, explain(features, model, theta, rounds, rule).json)
                stats.computed += 1
            except WECLError as error:
                record_failure(path, str(error))
            except Exception as error:  # one broken file must never stop a dataset run
                record_failure(path, f"{path}: {type(error).__name__}: {error}")
            done += 1
            progress(done, stats.total)
    stats.seconds = time.perf_counter() - start
    return stats


def write_outputs(results: dict[str, dict], jsonl: str | Path | None, activitynet: str | Path | None) -> None:
    """Results as JSON lines (one result per video) and/or ActivityNet results JSON, atomically."""
    if jsonl:
        atomic_write_text(jsonl, "".join(json.dumps(r) + "\n" for r in results.values()))
    if activitynet:
        write_prediction_file({vid: prediction_of(r, vid) for vid, r in results.items()}, activitynet)
