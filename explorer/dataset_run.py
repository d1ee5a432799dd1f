"""A dataset run for the explorer: every video of a folder through one or two checkpoints in a
background thread, with progress, results kept in the same SQLite database as
`python -m wecl batch` (so a restart resumes and nothing is computed twice), features from and to
the core's feature cache, and the folder's ground truth beside them.

The app polls `DatasetRun.status()`; everything it shows is computed from `results()` by
`explorer.dataset_view`. No gradio here.
"""
from __future__ import annotations

import shutil
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from explorer.groundtruth import check_file_count, read_ground_truth
from wecl import faithfulness
from wecl.annotations import AnnotationSet, Segment, is_positions_file, save_video_segments, video_id, write_annotations
from wecl.annotations.model import check_size
from wecl.batch import BatchStats, list_videos, run_batch
from wecl.config import cache_root
from wecl.detection import check_rule
from wecl.errors import WECLError
from wecl.evaluation import score_sweep, sweep_predictions
from wecl.features import Features, cache, video_hash
from wecl.inference import load_model, source_of
from wecl.model import WECL
from wecl.results_db import ResultsDB, default_db

ANNOTATION_NAMES = ("annotations.json", "annotations.csv", "ground_truth.json", "ground_truth.csv")


def find_annotation_file(folder: str | Path) -> Path | None:
    """The folder's own annotation file, by its usual names (what `wecl synth` writes first)."""
    for name in ANNOTATION_NAMES:
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    return None


def short_name(checkpoint_id: str) -> str:
    """A checkpoint's name for plots and tables: a Hub id as it is, a local folder by its name."""
    path = Path(checkpoint_id)
    return path.name if path.is_absolute() or path.exists() else checkpoint_id


@dataclass
class RunProgress:
    """Where one checkpoint's pass over the folder stands."""

    checkpoint: str
    total: int
    done: int = 0
    state: str = "queued"  # queued | running | sweeping | done | failed | stopped
    message: str = ""
    stats: BatchStats | None = None

    def line(self) -> str:
        if self.state == "failed":
            return f"**{self.checkpoint}**: failed: {self.message}"
        if self.state == "stopped":
            done = f" after {self.stats.computed} computed, {self.stats.reused} reused" if self.stats else ""
            return f"**{self.checkpoint}**: stopped{done} ({self.done}/{self.total}); Start again to continue"
        if self.state == "sweeping":
            return f"**{self.checkpoint}**: {self.total} videos done; θ sweep and faithfulness on the cached features"
        if self.state == "done" and self.stats:
            s = self.stats
            rate = f", {s.videos_per_second:.2f} videos/s" if s.computed else ""
            # a second checkpoint on the same backbones finds every video's features in the cache
            cached = f"; {s.cached_features} on cached features, the heads alone ran" if s.cached_features else ""
            return (f"**{self.checkpoint}**: {s.total} videos: {s.computed} computed, {s.reused} reused, "
                    f"{s.failed} failed ({s.seconds:.2f} s{rate}{cached})")
        return f"**{self.checkpoint}**: {self.state} {self.done}/{self.total}"


class DatasetRun:
    """Predictions for every video of `folder` under each checkpoint (one after the other).

    Construction checks everything a user can get wrong (folder, annotation file, checkpoints) and
    raises WECLError at once; `start()` then works in a daemon thread, and a video that cannot be
    read is recorded as a failure and skipped.
    """

    def __init__(self, folder: str | Path, checkpoints: list[str | None], annotation: str | list[str] | None = None,
                 device: str = "auto", db: str | Path | None = None, workers: int = 2, keyframe_rule: str = "eq9",
                 private: bool = False):
        self.keyframe_rule = check_rule(keyframe_rule)
        self.token = uuid.uuid4().hex
        self.folder = Path(folder).expanduser().resolve()
        self.videos = list_videos(self.folder)
        if not self.videos:
            raise WECLError(f"{folder}: no video files in this folder")
        self._paths = {video_id(p.name): str(p) for p in self.videos}  # the ids results are stored under
        if annotation:
            paths = [annotation] if isinstance(annotation, (str, Path)) else list(annotation)
        else:
            found = find_annotation_file(self.folder)
            paths = [str(found)] if found else []
        self.annotation_paths = [str(p) for p in paths]
        # `private`: edits go to a copy this run owns (an upload Gradio may delete, or a Space's
        # bundled files that every visitor sees); the originals never change.
        self.private = private
        if self.annotation_paths:
            check_file_count(self.annotation_paths)  # before anything is copied
        try:
            if private:
                self.annotation_paths = self._own_copies(self.annotation_paths)
            self.ground_truth: AnnotationSet = read_ground_truth(self.annotation_paths) if self.annotation_paths else {}
            if not checkpoints:
                raise WECLError("no checkpoint given")
            self.models: list[WECL] = [load_model(spec, device=device) for spec in checkpoints]
            self.db_path = Path(db) if db else default_db(self.folder)
            # One connection for the worker and the pollers, opened here: opened lazily, two threads
            # racing to open it would each get one, and SQLite refuses the second's WAL switch.
            self.db = ResultsDB(self.db_path)
        except BaseException:  # a run that never starts keeps no copies
            shutil.rmtree(runs_root() / self.token, ignore_errors=True)
            raise
        names = [short_name(m.checkpoint.id) for m in self.models]
        # two different checkpoints may share a folder name: number them so tables and plots differ
        self.names = [f"{n} ({i + 1})" if names.count(n) > 1 else n for i, n in enumerate(names)]
        self.workers = workers
        self.progress = [RunProgress(name, len(self.videos)) for name in self.names]
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._results: dict[int, tuple[float, dict[str, dict]]] = {}  # index -> (newest row read, results)
        self._sweeps: dict[int, tuple[float, dict]] = {}  # index -> (results version, theta -> predictions)

    @property
    def annotation_path(self) -> str | None:
        """The file edits are saved to (the positions file when a video list came with it)."""
        if not self.annotation_paths:
            return None
        if len(self.annotation_paths) == 1:
            return self.annotation_paths[0]
        return next(p for p in self.annotation_paths if is_positions_file(p))

    def start(self) -> "DatasetRun":
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name=f"wecl-dataset-{self.folder.name}", daemon=True)
            self._thread.start()
        return self

    def _work(self) -> None:
        for index, (model, progress) in enumerate(zip(self.models, self.progress)):
            progress.state = "running"

            def tick(done: float, total: float, what: str, progress=progress) -> None:
                progress.done, progress.total = done, total

            if self._stop.is_set():  # stopped before this checkpoint began
                progress.state, progress.stats = "stopped", BatchStats(total=len(self.videos), stopped=True)
                continue
            try:
                progress.stats = run_batch(self.videos, model, self.db, workers=self.workers, progress=tick,
                                           stop=self._stop, keyframe_rule=self.keyframe_rule)
                if progress.stats.stopped:
                    progress.state = "stopped"
                    continue
                # The theta sweep runs every video at 11 thetas: here, not in the poll that shows it.
                progress.state = "sweeping"
                self.theta_sweep(index)
                self.faithfulness(index)
                progress.state = "done"
            except Exception as error:  # shown in the app; the database keeps what was finished
                progress.state, progress.message = "failed", f"{type(error).__name__}: {error}"

    def close(self) -> None:
        """Stop the worker after the video in hand, close the database connection and drop the
        run's own annotation copies."""
        self._stop.set()
        if self._thread is None or not self._thread.is_alive():
            self.db.close()
        if self.private:
            shutil.rmtree(runs_root() / self.token, ignore_errors=True)

    def stop(self) -> None:
        """End the run after the video in hand; everything finished stays in the database, and a
        new run of the same folder continues from there."""
        self._stop.set()

    @property
    def finished(self) -> bool:
        return all(p.state in ("done", "failed", "stopped") for p in self.progress)

    def fraction(self) -> float:
        total = sum(p.total for p in self.progress) or 1
        return sum(p.total if p.state in ("done", "failed") else p.done for p in self.progress) / total

    def status(self) -> str:
        return "  \n".join(p.line() for p in self.progress)

    def results(self, index: int = 0) -> dict[str, dict]:
        """video id -> result JSON of checkpoint `index`, one per file of this folder. Results are
        found by content hash, so a moved or renamed folder keeps its results and two files with
        the same bytes each get their row (under their own path and id)."""
        model = self.models[index]
        key = (source_of(model), model.config.theta, 1, self.keyframe_rule)
        seen, by_hash = self._results.get(index, (0, {}))
        latest = self.db.latest(*key)
        if latest > seen:  # read only what was committed since the last call (a poll per second)
            by_hash = {**by_hash, **self.db.results_by_hash(*key, since=seen)}
            self._results[index] = (latest, by_hash)
        out = {}
        for path in self.videos:
            digest = video_hash.known(str(path))  # hashed by the run's worker; a poll never reads videos
            result = by_hash.get(digest) if digest else None
            if result is not None:
                vid = video_id(path.name)
                out[vid] = {**result, "video": {**result["video"], "path": str(path)}, "video_id": vid}
        return dict(sorted(out.items()))

    def failures(self, index: int = 0) -> dict[str, str]:
        wanted = {str(v) for v in self.videos}
        model = self.models[index]
        failures = self.db.failures(source_of(model), model.config.theta, 1, self.keyframe_rule)
        return {p: m for p, m in failures.items() if p in wanted}

    def features(self, index: int = 0) -> dict[str, Features]:
        """Cached features of the videos that have a result (the θ sweep needs no decoding)."""
        model = self.models[index]
        out = {}
        for vid, result in self.results(index).items():
            features = cache.get(result["video"]["path"], model)
            if features is not None:
                out[vid] = features
        return out

    def theta_sweep(self, index: int = 0) -> list[dict]:
        """Accuracy and mAP against theta (paper Fig. 3), over the videos with a result and ground
        truth. The predictions at every theta are made once per set of results and kept, so a
        ground-truth edit only scores them again."""
        self.results(index)  # brings the results, and so their version, up to date
        version = self._results.get(index, (0.0, {}))[0]
        if index not in self._sweeps or self._sweeps[index][0] != version:  # features only when stale
            self._sweeps[index] = (version, sweep_predictions(self.models[index], self.features(index),
                                                              keyframe_rule=self.keyframe_rule))
        by_theta = self._sweeps[index][1]
        swept = next(iter(by_theta.values()), {})
        truth = {vid: a for vid, a in self.ground_truth.items() if vid in swept}
        if not truth:
            return []
        kept = {theta: {vid: p for vid, p in preds.items() if vid in truth} for theta, preds in by_theta.items()}
        return score_sweep(kept, truth, self.models[index].config.classes)

    def faithfulness(self, index: int = 0, how: str = "remove") -> dict:
        """`wecl.faithfulness.dataset_faithfulness` of the videos with a result. Each video's
        curves are stored in the results database (keyed like its result, and by the
        perturbation), so a rerun recomputes nothing; the hits and the per-class rows follow the
        ground truth as it is now."""
        model = self.models[index]
        key = (source_of(model), model.config.theta, 1, self.keyframe_rule)
        results, scorer, figures = self.results(index), None, {}
        for path in self.videos:
            vid, digest = video_id(path.name), video_hash.known(str(path))
            result = results.get(vid)
            if result is None or not digest:
                continue
            out = self.db.faithfulness(digest, *key, how)
            if out is None:
                features = cache.get(str(path), model)
                if features is None:  # evicted from the cache: measured on the next run that has them
                    continue
                scorer = scorer or faithfulness.heads_scorer(model)
                out = faithfulness.video_faithfulness(
                    scorer, features.visual, features.audio, faithfulness.video_attention(result), features.spans,
                    keyframes=[s["erased_round"] == 0 for s in result["segments"]], how=how)
                self.db.put_faithfulness(digest, *key, how, out)
            gt = self.ground_truth.get(vid)
            truth = [(s.start, s.end) for s in gt.segments] if gt else []
            spans = [(s["start"], s["end"]) for s in result["segments"]]
            main = faithfulness.main_order(out)
            hit = faithfulness.in_truth(out["orders"][main]["order"][0], spans, truth) if truth and main else None
            figures[vid] = {**out, "hit": hit}
        return faithfulness.dataset_faithfulness(figures, {vid: a.label for vid, a in self.ground_truth.items()})

    def save_segments(self, vid: str, segments: list[Segment], label: str | None = None) -> str:
        """Write one video's corrected ground truth back to the annotation file (backup, lock,
        atomic replace: `save_video_segments`); a folder without one gets `annotations.json`."""
        if not self.annotation_paths:
            where = runs_root() / self.token if self.private else self.folder
            where.mkdir(parents=True, exist_ok=True)
            self.annotation_paths = [str(where / "annotations.json")]
        elif not all(Path(p).is_file() for p in self.annotation_paths):
            gone = next(p for p in self.annotation_paths if not Path(p).is_file())
            raise WECLError(f"{gone}: the annotation file has disappeared since Start; nothing was saved "
                            "(Export keeps a copy of the ground truth on screen)")
        path = self.annotation_path
        lists = [p for p in self.annotation_paths if p != path]
        result = self.results(0).get(vid)
        duration = result["video"]["duration"] if result else None
        save_video_segments(path, vid, segments, label=label, duration=duration, video_list=lists[0] if lists else None)
        self.ground_truth = read_ground_truth(self.annotation_paths)
        return path

    def _own_copies(self, paths: list[str]) -> list[str]:
        """Copy the annotation files into storage this run owns (kept as long as the run)."""
        folder = runs_root() / self.token
        folder.mkdir(parents=True, exist_ok=True)
        copies = []  # on a failure the caller removes the folder
        for path in paths:
            copy = folder / Path(path).name
            try:
                check_size(path)  # within the annotation size bound before a byte is copied
                shutil.copyfile(path, copy)
            except OSError as error:
                raise WECLError(f"{path}: cannot copy the annotation file ({error.strerror})") from None
            copies.append(str(copy))
        return copies

    def export_ground_truth(self, out_dir: str | Path) -> tuple[list[Path], list[str]]:
        """The ground truth in every format `wecl.annotations` writes, into `out_dir`; -> the files
        written and, for a format that cannot hold this ground truth, why it was left out."""
        if not self.ground_truth:
            raise WECLError("no ground truth to export: load an annotation file or add segments first")
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        fps = next((r["video"]["fps"] for r in self.results(0).values()), 25.0)
        stem = "annotations"
        targets = [("activitynet", out / f"{stem}.activitynet.json", {}),
                   ("csv", out / f"{stem}.csv", {}),
                   ("ekman-position", out / f"{stem}.position.txt", {"video_list": out / f"{stem}.position_videos.txt"}),
                   ("elan", out / f"{stem}.elan.txt", {}),
                   ("label-studio", out / f"{stem}.label-studio.json", {"fps": fps})]
        written, problems = [], []
        for fmt, path, options in targets:
            try:
                write_annotations(self.ground_truth, path, fmt, **options)
            except WECLError as error:  # e.g. a video with more than three segments for position.txt
                problems.append(f"{fmt}: {error}")
                continue
            written.append(path)
            if "video_list" in options:
                written.append(options["video_list"])
        return written, problems

    def video_path(self, vid: str) -> str | None:
        return self._paths.get(vid)


KEEP_RUNS = 8  # finished runs kept (their tables stay on screen); running ones are always kept
_runs: dict[tuple, DatasetRun] = {}  # the newest run of each (folder, checkpoints, device, annotation, rule)
_tokens: dict[str, tuple] = {}  # every token handed out -> its key: an old token finds the newest run
_runs_lock = threading.Lock()


def runs_root() -> Path:
    """Where private dataset runs keep their annotation copies: $WECL_CACHE/dataset-runs."""
    return cache_root() / "dataset-runs"


def start_run(folder: str | Path, checkpoints: list[str | None], annotation: str | list[str] | None = None,
              device: str = "auto", keyframe_rule: str = "eq9", owner: str | None = None) -> DatasetRun:
    """Start (or join) the run for this folder and these checkpoints: two browser tabs pointing at
    the same folder share one background run instead of computing everything twice.

    With an `owner` (a browser session on a Space), the run is that owner's alone and edits go to
    its own copy of the annotation file; an uploaded annotation file is always copied at Start."""
    private = bool(owner) or bool(annotation)
    key = (str(Path(folder).expanduser().resolve()), tuple(str(c or "") for c in checkpoints), device,
           str(annotation or ""), keyframe_rule, owner or "")
    with _runs_lock:
        run = _runs.get(key)
        if run is not None and not run.finished:
            return run
    # Built outside the lock: scanning a folder, reading its annotations and loading models takes
    # seconds, and other users' polls must not wait for it.
    new = DatasetRun(folder, checkpoints, annotation, device, keyframe_rule=keyframe_rule, private=private)
    with _runs_lock:
        run = _runs.get(key)
        if run is not None and not run.finished:  # another tab started the same run meanwhile
            new.close()
            return run
        if run is not None:
            run.close()  # a finished run of the same key is dropped, with its connection and cache
        _runs[key] = new
        _tokens[new.token] = key
        finished = [k for k, r in _runs.items() if r.finished and k != key]
        for old in finished[: max(0, len(_runs) - KEEP_RUNS)]:  # keep a few, oldest finished go first
            _runs.pop(old).close()
        for token in [t for t, k in _tokens.items() if k not in _runs]:
            del _tokens[token]
        return new.start()


def get_run(token: str | None) -> DatasetRun | None:
    """The newest run of the folder `start_run` returned this token for (the app keeps the token
    in a session; a restart from another tab moves it on to the new run)."""
    with _runs_lock:
        return _runs.get(_tokens.get(token)) if token else None
