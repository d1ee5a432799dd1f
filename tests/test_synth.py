import csv
import json

import av
import numpy as np
import pytest

from wecl.errors import WECLError
from wecl.training.synth import CLASS_CUES, DEFAULT_CLASSES, SAMPLE_RATE, generate

SEED = 7


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    calls = []
    database = generate(out, videos=4, seed=SEED, progress=lambda done, total, what: calls.append(done))
    return out, database, calls


def _decode(path):
    """Frames (N, H, W, 3) with their times, and the mono waveform with its start time."""
    with av.open(str(path)) as container:
        assert container.streams.video and container.streams.audio
        duration = container.duration / av.time_base
        frames, frame_times = [], []
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            frame_times.append(frame.time)
        container.seek(0)
        chunks, audio_start = [], None
        for frame in container.decode(audio=0):
            audio_start = frame.time if audio_start is None else audio_start
            chunks.append(frame.to_ndarray().mean(axis=0))
        rate = container.streams.audio[0].rate
    return duration, np.stack(frames), np.array(frame_times), np.concatenate(chunks), audio_start, rate


def _tone_power(wave, rate, freq):
    """Mean power near `freq` over 0.25 s windows (numpy FFT)."""
    n = int(0.25 * rate)
    windows = [wave[i:i + n] for i in range(0, len(wave) - n + 1, n)]
    bins = np.fft.rfftfreq(n, 1 / rate)
    near = np.abs(bins - freq) <= 8
    return np.mean([np.sum(np.abs(np.fft.rfft(w * np.hanning(n)))[near] ** 2) for w in windows])


def test_writes_files_and_annotations(bench):
    out, database, calls = bench
    assert calls == [1, 2, 3, 4]
    assert sorted(database) == [f"synth_{SEED}_{i:04d}" for i in range(4)]
    assert [database[v]["label"] for v in sorted(database)] == list(DEFAULT_CLASSES)
    document = json.loads((out / "annotations.json").read_text())
    assert document["database"] == database and document["labels"] == list(DEFAULT_CLASSES)
    with open(out / "annotations.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and set(rows[0]) == {"video", "start", "end", "label"}
    assert len(rows) == sum(len(e["annotations"]) for e in database.values())

    for entry in database.values():
        assert entry["subset"] in ("training", "validation")
        duration, spans = entry["duration"], entry["annotations"]
        assert 6.0 <= duration <= 10.0 and 1 <= len(spans) <= 3
        covered = sum(end - start for start, end in (a["segment"] for a in spans))
        assert 0.29 * duration <= covered <= 0.51 * duration
        previous_end = 0.0
        for ann in spans:
            start, end = ann["segment"]
            assert previous_end <= start < end <= duration and end - start >= 0.99
            assert ann["label"] == entry["label"] and ann["modality"] in ("both", "visual", "audio")
            assert 0.0 < ann["strength"] <= 1.0
            previous_end = end
        assert max(a["strength"] for a in spans) == 1.0


def test_videos_decode_and_carry_the_cues(bench):
    out, database, _ = bench
    checked_visual = checked_audio = 0
    for video_id, entry in database.items():
        duration, frames, times, wave, audio_start, rate = _decode(out / f"{video_id}.mp4")
        assert rate == SAMPLE_RATE
        assert abs(duration - entry["duration"]) < 0.2
        assert abs(len(frames) / 15 - entry["duration"]) < 0.2
        assert abs(len(wave) / rate - entry["duration"]) < 0.2

        cue = CLASS_CUES[entry["label"]]
        outside = np.ones(len(times), bool)
        for ann in entry["annotations"]:
            start, end = ann["segment"]
            outside &= ~((times >= start - 0.1) & (times < end + 0.1))
        centre = frames[:, 30:90, 40:120].reshape(len(frames), -1, 3).mean(axis=1)  # (N, 3)
        outside_colour = centre[outside].mean(axis=0)
        t = audio_start + np.arange(len(wave)) / rate
        quiet = np.ones(len(wave), bool)
        for ann in entry["annotations"]:
            start, end = ann["segment"]
            quiet &= ~((t >= start - 0.1) & (t < end + 0.1))
        outside_power = _tone_power(wave[quiet], rate, cue.tone_hz)

        for ann in entry["annotations"]:
            start, end = ann["segment"]
            if ann["modality"] in ("both", "visual"):
                inside = (times >= start + 0.1) & (times < end - 0.1)
                colour = centre[inside].mean(axis=0)
                assert np.abs(colour - outside_colour).max() > 40, (video_id, ann)
                # Towards the class colour, not merely different.
                direction = np.array(cue.colour) - outside_colour
                assert np.dot(colour - outside_colour, direction) > 0
                checked_visual += 1
            if ann["modality"] in ("both", "audio"):
                inside = (t >= start + 0.1) & (t < end - 0.1)
                assert _tone_power(wave[inside], rate, cue.tone_hz) > 20 * outside_power, (video_id, ann)
                checked_audio += 1
            if ann["modality"] == "visual":
                inside = (t >= start + 0.1) & (t < end - 0.1)
                assert np.abs(wave[inside]).max() < 0.02  # silence
            if ann["modality"] == "audio":
                inside = (times >= start + 0.1) & (times < end - 0.1)
                assert centre[inside].mean() < 30  # dark picture
    assert checked_visual and checked_audio


def test_same_seed_same_annotations_other_seed_differs(bench, tmp_path):
    out, _, _ = bench
    again = tmp_path / "again"
    generate(again, videos=4, seed=SEED)
    assert (again / "annotations.json").read_text() == (out / "annotations.json").read_text()
    other = generate(tmp_path / "other", videos=4, seed=SEED + 1)
    first = json.loads((out / "annotations.json").read_text())["database"]
    assert [e["annotations"] for e in other.values()] != [e["annotations"] for e in first.values()]


def test_user_errors(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(WECLError, match="file.txt"):
        generate(a_file, videos=2, seed=0)
    with pytest.raises(WECLError, match="videos"):
        generate(tmp_path / "out", videos=0, seed=0)
    with pytest.raises(WECLError, match="no cue"):
        generate(tmp_path / "out", videos=2, seed=0, classes=("anger", "boredom"))
