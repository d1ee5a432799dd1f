"""The results database of dataset runs: SQLite (standard library), one row per prediction, keyed
by video content hash + checkpoint id + revision, so a restarted run resumes and nothing is
computed twice. A local checkpoint folder has no revision; its weights' SHA-256 stands in.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    video_hash    TEXT NOT NULL,
    checkpoint_id TEXT NOT NULL,
    revision      TEXT NOT NULL,
    video_id      TEXT NOT NULL,
    video_path    TEXT NOT NULL,
    result        TEXT NOT NULL,
    created       REAL NOT NULL,
    PRIMARY KEY (video_hash, checkpoint_id, revision)
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


def revision_key(checkpoint: dict) -> str:
    """The checkpoint part of the key: its Hub revision, or its weights' hash for a folder."""
    return checkpoint.get("revision") or f"sha256:{checkpoint.get('fingerprint', '')}"


class ResultStore:
    """A thread-safe handle on one results database file (WAL: readers never block the writer)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def get(self, video_hash: str, checkpoint: dict) -> dict | None:
        with self._lock:
            row = self._db.execute(
                "SELECT result FROM predictions WHERE video_hash=? AND checkpoint_id=? AND revision=?",
                (video_hash, checkpoint["id"], revision_key(checkpoint)),
            ).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, video_hash: str, video_id: str, result: dict) -> None:
        ckpt = result["checkpoint"]
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO predictions VALUES (?, ?, ?, ?, ?, ?, ?)",
                (video_hash, ckpt["id"], revision_key(ckpt), video_id, result["video"]["path"],
                 json.dumps(result), time.time()),
            )
            self._db.execute("DELETE FROM failures WHERE video_path=? AND checkpoint_id=? AND revision=?",
                             (result["video"]["path"], ckpt["id"], revision_key(ckpt)))

    def fail(self, video_path: str, checkpoint: dict, message: str) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?, ?)",
                             (video_path, checkpoint["id"], revision_key(checkpoint), message, time.time()))

    def results(self, checkpoint: dict) -> dict[str, dict]:
        """video id -> result JSON for one checkpoint."""
        with self._lock:
            rows = self._db.execute(
                "SELECT video_id, result FROM predictions WHERE checkpoint_id=? AND revision=? ORDER BY video_id",
                (checkpoint["id"], revision_key(checkpoint)),
            ).fetchall()
        return {vid: json.loads(text) for vid, text in rows}

    def failures(self, checkpoint: dict) -> dict[str, str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT video_path, message FROM failures WHERE checkpoint_id=? AND revision=?",
                (checkpoint["id"], revision_key(checkpoint)),
            ).fetchall()
        return dict(rows)
