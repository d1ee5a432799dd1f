"""`wecl.schema` describes exactly what a real prediction writes: every declared key present (or
optional), no undeclared key, every value of its declared type; on the file `predict --json`
writes, in memory, for a video with and without sound, a visual-only in-memory model, and a batch
run's stored result."""
import json
import shutil
import sqlite3
import types
import typing

import pytest

from helpers import run_wecl, tiny_config
from wecl import schema
from wecl.inference import predict

EXACT = (bool, int, float, str)  # compared with `type(...) is`: True is no int, 1 is no float


def check(value, hint, where: str = "result") -> None:
    """Raise AssertionError naming the first key path whose value does not match `hint`."""
    if typing.is_typeddict(hint):
        assert type(value) is dict, f"{where}: {type(value).__name__}, not an object ({hint.__name__})"
        missing = hint.__required_keys__ - value.keys()
        extra = value.keys() - hint.__required_keys__ - hint.__optional_keys__
        assert not missing, f"{where}: missing {sorted(missing)} ({hint.__name__})"
        assert not extra, f"{where}: undeclared {sorted(extra)} ({hint.__name__})"
        fields = typing.get_type_hints(hint)
        for key, item in value.items():
            check(item, fields[key], f"{where}.{key}")
        return
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        assert any(type(value) is type(a) and value == a for a in args), f"{where}: {value!r} not one of {args}"
    elif origin in (types.UnionType, typing.Union):
        problems = []
        for arm in args:
            try:
                return check(value, arm, where)
            except AssertionError as error:
                problems.append(str(error))
        raise AssertionError(" / ".join(problems))
    elif origin is list:
        assert type(value) is list, f"{where}: {type(value).__name__}, not a list"
        for i, item in enumerate(value):
            check(item, args[0], f"{where}[{i}]")
    elif origin is dict:
        assert type(value) is dict, f"{where}: {type(value).__name__}, not an object"
        for key, item in value.items():
            check(key, args[0], f"{where} key {key!r}")
            check(item, args[1], f"{where}[{key!r}]")
    elif hint is type(None):
        assert value is None, f"{where}: {value!r}, not null"
    elif hint in EXACT:
        assert type(value) is hint, f"{where}: {value!r} is {type(value).__name__}, not {hint.__name__}"
    else:
        raise TypeError(f"{where}: the checker does not know {hint!r}")


def check_result(data: dict) -> None:
    """The result as built, and as any reader of its JSON text gets it back."""
    check(data, schema.Result)
    check(json.loads(json.dumps(data, allow_nan=False)), schema.Result)


def test_cli_json_of_a_video_with_sound(media, tiny_checkpoint, tmp_path):
    out = tmp_path / "result.json"
    done = run_wecl("predict", media("av"), "--checkpoint", tiny_checkpoint, "--rounds", "2", "--json", out)
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    check(data, schema.Result)
    assert data["video"]["has_audio"] is True
    assert "fingerprint" in data["checkpoint"] and "video_id" not in data
    assert all(s["audio_attention"] is not None for s in data["segments"])


def test_video_without_sound(media, tiny_model):
    data = predict(media("silent"), tiny_model, theta=0.3, rounds=3).json
    check_result(data)
    assert data["video"]["has_audio"] is False
    # The audio stream runs on silence, and its attention on silence is never shown (issue 20).
    assert all(s["audio_attention"] is None and s["audio_attention_norm"] is None for s in data["segments"])
    assert all(r["audio"] is None for r in data["rounds_attention"]) and data["segments"][0]["visual_attention"] is not None


def test_visual_only_model_in_memory(media):
    """A model never saved has no fingerprint, and a modality it lacks is null everywhere."""
    from wecl.model import WECL

    model = WECL(tiny_config(modalities="visual", inter=False)).eval()
    data = predict(media("av"), model, rounds=2).json
    check_result(data)
    assert data["checkpoint"]["id"] == "in-memory" and "fingerprint" not in data["checkpoint"]
    assert all(s["audio_attention"] is None and s["audio_attention_norm"] is None for s in data["segments"])
    assert all(r["audio"] is None for r in data["rounds_attention"])


def test_batch_results_carry_a_video_id(media, tiny_checkpoint, tmp_path):
    """Batch results, as `--out` writes them and as the results database keeps them."""
    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copy(media("av"), folder / "clip one.mp4")
    shutil.copy(media("silent"), folder / "clip.two.mp4")
    out = tmp_path / "results.jsonl"
    done = run_wecl("batch", folder, "--checkpoint", tiny_checkpoint, "--out", out, "--workers", "1")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    with sqlite3.connect(folder / ".wecl" / "results.sqlite") as db:
        rows = [json.loads(text) for (text,) in db.execute("SELECT result FROM predictions")]
    assert len(lines) == len(rows) == 2
    for data in lines + rows:
        check(data, schema.Result)
    assert sorted(r["video_id"] for r in lines) == ["clip one", "clip.two"]


def test_checker_catches_a_key_gained_lost_or_retyped(media, tiny_model):
    good = predict(media("av"), tiny_model).json
    check(good, schema.Result)
    changes = [
        lambda d: d.update(extra=1),
        lambda d: d.pop("confidence"),
        lambda d: d["segments"][3].update(note="x"),
        lambda d: d["segments"][3].pop("erased_round"),
        lambda d: d["video"].update(width=160.0),
        lambda d: d["detections"].append({"start": 0.0, "end": 1.0, "score": 1, "label": "joy"}),
        lambda d: d.update(keyframe_rule="both"),
        lambda d: d["timings"].update(decode="fast"),
        lambda d: d["rounds_attention"][0].update(visual=[True]),
    ]
    for change in changes:
        bad = json.loads(json.dumps(good))
        change(bad)
        with pytest.raises(AssertionError):
            check(bad, schema.Result)
