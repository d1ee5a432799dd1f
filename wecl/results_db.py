"""The results database of dataset runs: SQLite (standard library), one row per prediction, keyed
by video content hash + checkpoint id + revision (with theta, rounds, keyframe rule and the result version), so a
restarted run resumes and nothing is computed twice. A local checkpoint folder has no revision; its
weights' SHA-256 stands in.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path

from wecl.config import cache_root
from wecl.schema import Result

SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    video_hash    TEXT NOT NULL,
    checkpoint_id TEXT NOT NULL,
    revision      TEXT NOT NULL,
    video_id      TEXT NOT NULL,
    video_path    TEXT NOT NULL,
    result        TEXT NOT NULL,
    created       REAL NOT NULL,
    seq           INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (video_hash, checkpoint_id, revision)
);
CREATE TABLE IF NOT EXISTS faithfulness (
    video_hash    TEXT NOT NULL,
    checkpoint_id TEXT NOT NULL,
    revision      TEXT NOT NULL,
    perturbation  TEXT NOT NULL,
    figures       TEXT NOT NULL,
    created       REAL NOT NULL,
    PRIMARY KEY (video_hash, checkpoint_id, revision, perturbation)
);
CREATE TABLE IF NOT EXISTS failures (
    video_path    TEXT NOT NULL,
    checkpoint_id TEXT NOT NULL,
    revision      TEXT NOT NULL,
    message       TEXT NOT NULL,
    created       REAL NOT NULL,
    PRIMARY KEY (video_path, checkpoint_id, revision)
);
"""


def default_db(folder: str | Path) -> Path:
    """The results database of a dataset folder: FOLDER/.wecl/results.sqlite, so the app and
    `python -m wecl batch` share it; for a folder we may not write to, one under $WECL_CACHE."""
    folder = Path(folder).resolve()
    if os.access(folder, os.W_OK):
        return folder / ".wecl" / "results.sqlite"
    name = hashlib.sha256(str(folder).encode()).hexdigest()[:16]
    return cache_root() / "results" / f"{name}.sqlite"


# Bump when `inference.explain` gives different results for the same weights and settings (as
# when the detection rule changed), so that stored results of the old code are not reused.
# 4: no audio numbers for a video without sound; clips of k successive frames by timestamp.
RESULT_VERSION = 4


def revision_key(checkpoint: dict, theta: float, rounds: int, keyframe_rule: str) -> str:
    """The checkpoint part of the key: its Hub revision, or its weights' hash for a folder, plus
    the settings a result depends on (theta, erasing rounds, keyframe rule, backbone precision)
    and the result version."""
    weights = checkpoint.get("revision") or f"sha256:{checkpoint.get('fingerprint', '')}"
    precision = checkpoint.get("precision", "fp32")  # fp32 rows keep the key they had before bf16
    return (f"{weights}|theta={float(theta):g}|rounds={int(rounds)}|keyframes={keyframe_rule}|v{RESULT_VERSION}"
            + ("" if precision == "fp32" else f"|precision={precision}"))


class ResultsDB:
    """A thread-safe handle on one results database file (WAL: readers never block the writer)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        # Switching to WAL does not wait for the busy timeout: another process (the app and
        # `wecl batch` on one folder) opening the database at the same moment can make it fail.
        for attempt in range(50):
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError:
                if attempt == 49:
                    raise
                time.sleep(0.1)
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(predictions)")}
        if "seq" not in columns:  # a database written before rows were numbered
            with self._db:
                self._db.execute("ALTER TABLE predictions ADD COLUMN seq INTEGER NOT NULL DEFAULT 0")
                self._db.execute("UPDATE predictions SET seq = rowid")
        self._db.execute("CREATE INDEX IF NOT EXISTS predictions_seq ON predictions (checkpoint_id, revision, seq)")

    def close(self) -> None:
        self._db.close()

    def get(self, video_hash: str, checkpoint: dict, theta: float, rounds: int, keyframe_rule: str) -> dict | None:
        with self._lock:
            row = self._db.execute(
                "SELECT result FROM predictions WHERE video_hash=? AND checkpoint_id=? AND revision=?",
                (video_hash, checkpoint["id"], revision_key(checkpoint, theta, rounds, keyframe_rule)),
            ).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, video_hash: str, video_id: str, result: Result) -> None:
        ckpt = result["checkpoint"]
        key = revision_key(ckpt, result["theta"], result["rounds"], result["keyframe_rule"])
        with self._lock, self._db:
            # seq: one more than any row so far, computed inside the write transaction (SQLite has
            # one writer at a time), so rows are numbered in the order they were committed.
            self._db.execute(
                "INSERT OR REPLACE INTO predictions VALUES (?, ?, ?, ?, ?, ?, ?, "
                "(SELECT COALESCE(MAX(seq), 0) + 1 FROM predictions))",
                (video_hash, ckpt["id"], key, video_id, result["video"]["path"],
                 json.dumps(result), time.time()),
            )
            self._db.execute("DELETE FROM failures WHERE video_path=? AND checkpoint_id=? AND revision=?",
                             (result["video"]["path"], ckpt["id"], key))

    def faithfulness(self, video_hash: str, checkpoint: dict, theta: float, rounds: int, keyframe_rule: str,
                     perturbation: str) -> dict | None:
        """One video's stored `faithfulness.video_faithfulness` figures, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT figures FROM faithfulness WHERE video_hash=? AND checkpoint_id=? AND revision=? "
                "AND perturbation=?",
                (video_hash, checkpoint["id"], revision_key(checkpoint, theta, rounds, keyframe_rule), perturbation),
            ).fetchone()
        return json.loads(row[0]) if row else None

    def put_faithfulness(self, video_hash: str, checkpoint: dict, theta: float, rounds: int, keyframe_rule: str,
                         perturbation: str, figures: dict) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO faithfulness VALUES (?, ?, ?, ?, ?, ?)",
                             (video_hash, checkpoint["id"], revision_key(checkpoint, theta, rounds, keyframe_rule),
                              perturbation, json.dumps(figures), time.time()))

    def fail(self, video_path: str, checkpoint: dict, theta: float, rounds: int, keyframe_rule: str, message: str) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?, ?)",
                             (video_path, checkpoint["id"], revision_key(checkpoint, theta, rounds, keyframe_rule), message,
                              time.time()))

    def results(self, checkpoint: dict, theta: float, rounds: int, keyframe_rule: str, since: int = 0) -> dict[str, dict]:
        """video id -> result JSON for one checkpoint at these settings; with `since` (a `latest()`
        value), only the rows committed after it, so a poller need not re-read everything. Rows
        are numbered in commit order, not stamped with a clock: a row committed late is never
        missed for having an early time stamp."""
        return self._results_by("video_id", checkpoint, theta, rounds, keyframe_rule, since)

    def results_by_hash(self, checkpoint: dict, theta: float, rounds: int, keyframe_rule: str,
                        since: int = 0) -> dict[str, dict]:
        """video content hash -> result JSON, as `results` (a dataset run matches its files by
        content, so a moved folder or two files with the same bytes find their result)."""
        return self._results_by("video_hash", checkpoint, theta, rounds, keyframe_rule, since)

    def _results_by(self, column: str, checkpoint: dict, theta: float, rounds: int, keyframe_rule: str,
                    since: int) -> dict[str, dict]:
        assert column in ("video_id", "video_hash")  # a column name, never user input
        with self._lock:
            rows = self._db.execute(
                f"SELECT {column}, result FROM predictions WHERE checkpoint_id=? AND revision=? AND seq>? "
                f"ORDER BY {column}",
                (checkpoint["id"], revision_key(checkpoint, theta, rounds, keyframe_rule), since),
            ).fetchall()
        return {key: json.loads(text) for key, text in rows}

    def latest(self, checkpoint: dict, theta: float, rounds: int, keyframe_rule: str) -> int:
        """The number of the newest row of this checkpoint at these settings (0 if none)."""
        with self._lock:
            row = self._db.execute(
                "SELECT MAX(seq) FROM predictions WHERE checkpoint_id=? AND revision=?",
                (checkpoint["id"], revision_key(checkpoint, theta, rounds, keyframe_rule)),
            ).fetchone()
        return row[0] or 0.0

    def failures(self, checkpoint: dict, theta: float, rounds: int, keyframe_rule: str) -> dict[str, str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT video_path, message FROM failures WHERE checkpoint_id=? AND revision=?",
                (checkpoint["id"], revision_key(checkpoint, theta, rounds, keyframe_rule)),
            ).fetchall()
        return dict(rows)
