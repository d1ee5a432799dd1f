"""`batch --ray` and `extract --ray`: a local Ray on this machine's cores, on synthetic videos, gives
the single-process results and files, resumes from the same database, and without Ray installed
says so in one line."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from helpers import REPO
from wecl import WECL, WECLConfig
from wecl.training.synth import generate

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray", reason="Ray is an optional extra (requirements-ray.txt)")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ray")
    generate(root / "videos", 6, seed=5, duration_range=(3.0, 4.0), size=(64, 48))
    (root / "videos" / "broken.mp4").write_bytes(b"not a video at all")
    WECL(WECLConfig(classes=["anger", "joy", "sadness", "surprise"], visual_depth=10, visual_width=0.125,
                    audio_depth=10, audio_width=0.125, relation_dim=32)).save_pretrained(root / "ckpt")
    return root


def wecl(*args, cache, extra_env=None):
    env = {**os.environ, "WECL_CACHE": str(cache), **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "wecl", *map(str, args)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)


def results(path) -> dict:
    return {r["video_id"]: r for r in map(json.loads, path.read_text().splitlines())}


def test_batch_on_ray_gives_the_single_process_results_and_resumes(dataset, tmp_path):
    videos, ckpt = dataset / "videos", dataset / "ckpt"
    single = wecl("batch", videos, "--checkpoint", ckpt, "--db", tmp_path / "one.sqlite", "--out", tmp_path / "one.jsonl",
                  cache=tmp_path / "cache-one")
    assert single.returncode == 0, single.stderr
    # without an ADDRESS a Ray of its own starts: RAY_ADDRESS (here no cluster at all) is not joined
    done = wecl("batch", videos, "--checkpoint", ckpt, "--db", tmp_path / "ray.sqlite", "--out", tmp_path / "ray.jsonl",
                "--ray", cache=tmp_path / "cache-ray", extra_env={"RAY_ADDRESS": "127.0.0.1:9"})
    assert done.returncode == 0, done.stderr
    assert "7 videos: 6 computed, 0 reused" in done.stdout and "broken.mp4" in done.stderr
    a, b = results(tmp_path / "one.jsonl"), results(tmp_path / "ray.jsonl")
    assert sorted(a) == sorted(b) and len(a) == 6
    for vid in a:
        assert a[vid]["prediction"] == b[vid]["prediction"], vid
        assert a[vid]["detections"] == b[vid]["detections"], vid
        assert [s["erased_round"] for s in a[vid]["segments"]] == [s["erased_round"] for s in b[vid]["segments"]]
        np.testing.assert_allclose(a[vid]["probabilities"], b[vid]["probabilities"], atol=1e-4)
        assert a[vid]["checkpoint"] == b[vid]["checkpoint"]
    # the feature cache was written as the single-process run writes it: same files
    assert sorted(p.name for p in (tmp_path / "cache-one" / "features").glob("*.npz")) == \
        sorted(p.name for p in (tmp_path / "cache-ray" / "features").glob("*.npz"))

    # resume: a new video is computed, the others come from the database (their cache cleared)
    more = tmp_path / "more"
    shutil.copytree(videos, more)
    generate(tmp_path / "new", 1, seed=99, duration_range=(3.0, 3.5), size=(64, 48))
    shutil.copy(next((tmp_path / "new").glob("*.mp4")), more / "fresh.mp4")
    shutil.rmtree(tmp_path / "cache-ray")
    again = wecl("batch", more, "--checkpoint", ckpt, "--db", tmp_path / "ray.sqlite", "--ray", cache=tmp_path / "cache-ray")
    assert again.returncode == 0, again.stderr
    assert "8 videos: 1 computed, 6 reused" in again.stdout, again.stdout


def test_extract_on_ray_writes_the_single_process_store(dataset, tmp_path):
    videos, ckpt = dataset / "videos", dataset / "ckpt"
    for name, extra in (("one", []), ("ray", ["--ray"])):
        done = wecl("extract", videos, "--out", tmp_path / name, "--checkpoint", ckpt, "--views", "2", *extra,
                    cache=tmp_path / f"cache-{name}")
        assert done.returncode == 0, done.stderr
    files = sorted(p.name for p in (tmp_path / "one" / "features").glob("*.npz"))
    assert files == sorted(p.name for p in (tmp_path / "ray" / "features").glob("*.npz")) and len(files) == 6
    for name in files:
        with np.load(tmp_path / "one" / "features" / name) as one, np.load(tmp_path / "ray" / "features" / name) as other:
            assert sorted(one.files) == sorted(other.files)
            for key in ("visual", "audio", "spans"):
                np.testing.assert_array_equal(one[key], other[key])  # fp32 extraction: the same bytes
            a, b = json.loads(str(one["meta"])), json.loads(str(other["meta"]))
            assert {k: v for k, v in a.items() if k != "timings"} == {k: v for k, v in b.items() if k != "timings"}
    manifests = [json.loads((tmp_path / name / "manifest.json").read_text()) for name in ("one", "ray")]
    assert manifests[0] == manifests[1]
    resumed = wecl("extract", videos, "--out", tmp_path / "ray", "--checkpoint", ckpt, "--views", "2", "--ray",
                   cache=tmp_path / "cache-ray")
    assert resumed.returncode == 0 and "0 extracted, 6 already done" in resumed.stdout, resumed.stdout


def test_ray_missing_is_one_line(dataset, tmp_path):
    fake = tmp_path / "no-ray" / "ray"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    done = wecl("batch", dataset / "videos", "--checkpoint", dataset / "ckpt", "--db", tmp_path / "x.sqlite", "--ray",
                cache=tmp_path / "cache", extra_env={"PYTHONPATH": str(tmp_path / "no-ray")})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == ("error: --ray needs Ray, which is not installed: "
                                                    "pip install -r requirements-ray.txt")


def test_the_face_checkpoint_on_ray_gives_the_single_process_results(tmp_path):
    """The default (face) checkpoint through Ray's workers: OpenCV in the decoding tasks' backbone
    actor, the per-segment face flag, the same detections as one process."""
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("hopper_then_astronaut.mp4", "rocket_then_astronaut.mp4"):
        shutil.copy(REPO / "assets" / "examples" / name, videos / name)
    single = wecl("batch", videos, "--db", tmp_path / "one.sqlite", "--out", tmp_path / "one.jsonl",
                  cache=tmp_path / "cache-one")
    assert single.returncode == 0, single.stderr
    done = wecl("batch", videos, "--db", tmp_path / "ray.sqlite", "--out", tmp_path / "ray.jsonl", "--ray",
                cache=tmp_path / "cache-ray", extra_env={"RAY_ADDRESS": "127.0.0.1:9"})
    assert done.returncode == 0, done.stderr
    a, b = results(tmp_path / "one.jsonl"), results(tmp_path / "ray.jsonl")
    assert a.keys() == b.keys() == {"hopper_then_astronaut", "rocket_then_astronaut"}
    for vid in a:
        assert a[vid]["prediction"] == b[vid]["prediction"] == "joy"
        assert a[vid]["detections"] == b[vid]["detections"]
        assert [s["face"] for s in a[vid]["segments"]] == [s["face"] for s in b[vid]["segments"]]
        np.testing.assert_allclose(a[vid]["probabilities"], b[vid]["probabilities"], atol=1e-4)
    assert [s["face"] for s in b["rocket_then_astronaut"]["segments"]] == [False] * 4 + [True] * 6
