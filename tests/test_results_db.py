"""The results database opened while another handle writes (the app's worker and pollers, and
`python -m wecl batch` on the same folder): every opener gets a working handle."""
import threading

from wecl.results_db import ResultsDB

CKPT = {"id": "ckpt", "revision": "r1"}


def result(i: int) -> dict:
    return {"checkpoint": CKPT, "theta": 0.5, "rounds": 1, "keyframe_rule": "eq9", "video": {"path": f"/v/{i}.mp4"},
            "prediction": "joy"}


def test_two_handles_opening_a_new_database_at_once(tmp_path):
    # Switching a new database to WAL does not wait for SQLite's busy timeout: two connections
    # doing it at the same moment failed with "database is locked" in about a third of the tries.
    for trial in range(60):
        path = tmp_path / f"t{trial}" / "results.sqlite"
        barrier, errors = threading.Barrier(2), []

        def open_and_write(i: int) -> None:
            try:
                barrier.wait()
                db = ResultsDB(path)
                db.put(f"hash{i}", f"v{i}", result(i))
                db.close()
            except Exception as error:  # collected: a thread's exception would not fail the test
                errors.append(repr(error))

        threads = [threading.Thread(target=open_and_write, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [], f"trial {trial}: {errors}"
        assert len(ResultsDB(path).results(CKPT, 0.5, 1, "eq9")) == 2


def test_opening_while_another_handle_writes(tmp_path):
    path = tmp_path / "results.sqlite"
    writer = ResultsDB(path)
    stop, wrote_all, errors = threading.Event(), threading.Event(), []

    def write() -> None:
        i = 0
        while not stop.is_set():
            writer.put(f"hash{i % 50}", f"v{i % 50}", result(i % 50))
            i += 1
            if i == 50:
                wrote_all.set()

    def open_and_read(i: int) -> None:
        try:
            db = ResultsDB(path)
            db.results(CKPT, 0.5, 1, "eq9")
            db.put(f"other{i}", f"o{i}", result(1000 + i))
            db.close()
        except Exception as error:  # collected: a thread's exception would not fail the test
            errors.append(repr(error))

    background = threading.Thread(target=write)
    background.start()
    try:
        openers = [threading.Thread(target=open_and_read, args=(i,)) for i in range(40)]
        for t in openers:
            t.start()
        for t in openers:
            t.join()
    finally:
        wrote_all.wait(timeout=60)  # each of the 50 at least once, however the threads were scheduled
        stop.set()
        background.join()
    assert errors == []
    found = ResultsDB(path).results(CKPT, 0.5, 1, "eq9")
    assert {f"o{i}" for i in range(40)} <= set(found)
    assert ResultsDB(path).get("hash3", CKPT, 0.5, 1, "eq9") is not None
    assert ResultsDB(path).get("hash3", CKPT, 0.7, 1, "eq9") is None  # theta is part of the key
    assert ResultsDB(path).get("hash3", CKPT, 0.5, 1, "fused") is None  # and so is the keyframe rule


def test_a_row_committed_late_with_an_early_clock_is_still_polled(tmp_path, monkeypatch):
    """The poll asks for rows after the newest it saw, by commit order, not by wall-clock time."""
    import time as clock

    db = ResultsDB(tmp_path / "results.sqlite")
    db.put("h1", "v1", result(1))
    seen = db.latest(CKPT, 0.5, 1, "eq9")
    monkeypatch.setattr(clock, "time", lambda: 1.0)  # a writer whose clock is far behind
    db.put("h2", "v2", result(2))
    assert set(db.results(CKPT, 0.5, 1, "eq9", since=seen)) == {"v2"}
    assert db.latest(CKPT, 0.5, 1, "eq9") > seen


def test_a_database_from_before_row_numbers_opens_and_keeps_its_rows(tmp_path):
    import json
    import sqlite3

    from wecl.results_db import revision_key

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE predictions (video_hash TEXT NOT NULL, checkpoint_id TEXT NOT NULL, revision TEXT NOT NULL, "
               "video_id TEXT NOT NULL, video_path TEXT NOT NULL, result TEXT NOT NULL, created REAL NOT NULL, "
               "PRIMARY KEY (video_hash, checkpoint_id, revision))")
    db.execute("INSERT INTO predictions VALUES (?, ?, ?, ?, ?, ?, ?)",
               ("h0", "ckpt", revision_key(CKPT, 0.5, 1, "eq9"), "v0", "/v/0.mp4", json.dumps(result(0)), 5.0))
    db.commit()
    db.close()
    db = ResultsDB(path)
    assert set(db.results(CKPT, 0.5, 1, "eq9")) == {"v0"}
    seen = db.latest(CKPT, 0.5, 1, "eq9")
    db.put("h1", "v1", result(1))
    assert set(db.results(CKPT, 0.5, 1, "eq9", since=seen)) == {"v1"}
