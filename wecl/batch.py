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
from dataclasses import dataclass, field
from pathlib import Path

from wecl.annotations import VIDEO_EXTENSIONS, video_id, write_prediction_file
from wecl.atomic import atomic_write_text
from wecl.errors import WECLError, describe
from wecl.evaluation import prediction_of
from wecl.features import Features, Inputs, cache, check_workers, prefetch, prepare_inputs, run_backbones, video_hash
from wecl.inference import explain, explain_settings, source_of
from wecl.model import WECL
from wecl.progress import Progress, silent
from wecl.results_db import ResultsDB
from wecl.schema import Result
from wecl.settings import settings


def list_videos(folder: str | Path) -> list[Path]:
    """Video files under `folder` (recursively, hidden folders such as .wecl left out), by
    extension, in a stable order. Unreadable sub-folders are skipped; a tree of more than
    `settings().max_scanned` entries (a dataset folder of "/") is refused with a message, not walked for minutes."""
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
        if scanned > settings().max_scanned:
            raise WECLError(f"{folder}: more than {settings().max_scanned:,} files and folders below it; "
                            "point at the dataset's own folder")
        found += [Path(root) / f for f in files if Path(f).suffix.lower() in VIDEO_EXTENSIONS]
    return sorted(p for p in found if p.is_file())


@dataclass
class BatchStats:
    total: int = 0
    computed: int = 0  # predictions made in this run
    cached_features: int = 0  # of those, on backbone features already in the cache (the heads alone ran)
    reused: int = 0  # already in the database: nothing recomputed
    failed: int = 0
    stopped: bool = False
    seconds: float = 0.0
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def videos_per_second(self) -> float:
        return self.computed / self.seconds if self.seconds > 0 else 0.0


@dataclass
class BatchPlan:
    """One batch run: its settings, the videos left to do, and the bookkeeping every way of
    running it shares (`run_batch` here, `distributed.run_batch_ray`)."""

    model: WECL
    db: ResultsDB
    theta: float
    rounds: int
    rule: str
    stats: BatchStats
    todo: list[tuple[Path, str]]  # (path, content hash) of the videos with no result yet
    progress: Progress
    started: float
    done: int = 0

    def keep(self, path: Path, digest: str, result: Result) -> None:
        """Commit one prediction under the file's own path and id."""
        result["video"]["path"] = str(path)
        result["video_id"] = video_id(path.name)
        self.db.put(digest, result["video_id"], result)
        self.stats.computed += 1
        self.stats.cached_features += result.get("features") != "computed"
        self._tick()

    def fail(self, path: Path, message: str) -> None:
        """Count a failed video and keep its message in the database."""
        self.stats.failed += 1
        self.stats.failures[str(path)] = message
        self.db.fail(str(path), source_of(self.model), self.theta, self.rounds, self.rule, message)
        self._tick()

    def finish(self) -> BatchStats:
        self.stats.seconds = time.perf_counter() - self.started
        return self.stats

    def _tick(self) -> None:
        self.done += 1
        self.progress(self.done, self.stats.total, "videos")


def plan(videos: list[Path], model: WECL, db: ResultsDB, theta: float | None, rounds: int,
         keyframe_rule: str | None, progress: Progress | None) -> BatchPlan:
    """The run's settings (None: the checkpoint's theta and rule) and the videos left to do; the
    others are counted as reused, or failed when they cannot be read."""
    theta, rounds, rule = explain_settings(model, theta, rounds, keyframe_rule)  # before any video
    stats, started = BatchStats(total=len(videos)), time.perf_counter()
    checkpoint, todo = source_of(model), []
    for path in videos:
        try:
            digest = video_hash(str(path))
        except OSError as error:
            stats.failed += 1
            stats.failures[str(path)] = f"{path}: cannot read ({error.strerror})"
            continue
        if db.get(digest, checkpoint, theta, rounds, rule) is not None:
            stats.reused += 1
        else:
            todo.append((path, digest))
    progress = progress or silent
    run = BatchPlan(model, db, theta, rounds, rule, stats, todo, progress, started, stats.reused + stats.failed)
    progress(run.done, stats.total, "videos")
    return run


def run_batch(
    videos: list[Path],
    model: WECL,
    db: ResultsDB,
    theta: float | None = None,
    rounds: int = 1,
    workers: int = 2,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    keyframe_rule: str | None = None,
) -> BatchStats:
    """Predict every video not yet in `db` for this checkpoint; bad videos are recorded and skipped.
    Setting `stop` ends the run after the video in hand (`stats.stopped`); what is done is kept."""
    check_workers(workers)
    run = plan(videos, model, db, theta, rounds, keyframe_rule, progress)

    def load(item: tuple[Path, str]) -> Features | Inputs:
        """The video's cached features, or its decoded inputs (in a worker thread)."""
        features = cache.get(str(item[0]), model)
        return features if features is not None else prepare_inputs(str(item[0]), model.config)

    for (path, digest), job in prefetch(run.todo, load, workers, ahead=max(1, workers) + 1):
        if stop is not None and stop.is_set():
            run.stats.stopped = True
            break
        try:
            features = job.result()
            if isinstance(features, Inputs):
                features = run_backbones(features, model)
                cache.put(str(path), model, features)
            run.keep(path, digest, explain(features, model, run.theta, run.rounds, run.rule).json)
        except Exception as error:  # noqa: BLE001 - one broken file must never stop a dataset run
            run.fail(path, describe(error, f"{path}: "))
    return run.finish()


def write_outputs(results: dict[str, dict], jsonl: str | Path | None, activitynet: str | Path | None) -> None:
    """Results as JSON lines (one result per video) and/or ActivityNet results JSON, atomically."""
    if jsonl:
        atomic_write_text(jsonl, "".join(json.dumps(r) + "\n" for r in results.values()))
    if activitynet:
        write_prediction_file({vid: prediction_of(r, vid) for vid, r in results.items()}, activitynet)
