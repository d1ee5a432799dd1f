"""Loading checkpoints from a folder, the project registry and the Hub cache, all without network:
HF_HUB_OFFLINE=1 and a Hub cache laid out by hand as huggingface_hub lays it out."""
import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest

from helpers import REPO
from wecl import cards, checkpoints, inference, weights
from wecl.errors import WECLError
from wecl.model import WECL

COMMIT = "0123456789abcdef0123456789abcdef01234567"
TAG_COMMIT = "fedcba9876543210fedcba9876543210fedcba98"


def test_local_folder(tiny_checkpoint):
    model = WECL.from_pretrained(tiny_checkpoint)
    ref = model.checkpoint
    assert ref.id == str(tiny_checkpoint.resolve()) and ref.revision is None
    assert ref.path == tiny_checkpoint.resolve()
    expected = hashlib.sha256((tiny_checkpoint / "model.safetensors").read_bytes()).hexdigest()
    assert ref.fingerprint == expected
    assert ref.to_json() == {"id": ref.id, "revision": None, "fingerprint": expected}
    assert not model.training
    # str and PathLike alike; a trailing "@something" on an existing folder is part of its name
    assert WECL.from_pretrained(str(tiny_checkpoint)).checkpoint.id == ref.id


def test_folder_with_at_sign_in_name(tiny_checkpoint, tmp_path):
    folder = tmp_path / "ckpt@v1"
    shutil.copytree(tiny_checkpoint, folder)
    assert WECL.from_pretrained(folder).checkpoint.path == folder.resolve()


def test_default_checkpoint_from_registry():
    folder, ident, revision = checkpoints.resolve(None)
    assert folder.is_dir() and folder.parent == checkpoints.CHECKPOINTS_DIR
    assert revision is None
    default_name = checkpoints.registry()["default"]
    assert checkpoints.resolve(default_name)[0] == folder
    model = WECL.from_pretrained()
    assert model.config.training == "rule" and model.config.face  # wecl-face-ekman6 (tests/test_face.py)
    assert cards.training_notice(model.config).startswith("Not the paper's trained WECL")
    demo = WECL.from_pretrained("wecl-synth-demo")
    assert cards.training_notice(demo.config).startswith("Trained only on synthetic videos")
    untrained = WECL.from_pretrained("wecl-untrained-tiny")
    assert cards.training_notice(untrained.config).startswith("This checkpoint is untrained")


def test_parse_spec():
    assert checkpoints.parse_spec("owner/name@main") == ("owner/name", "main")
    assert checkpoints.parse_spec("owner/name") == ("owner/name", None)
    assert checkpoints.parse_spec("owner/name@v1", "v2") == ("owner/name", "v2")


@pytest.mark.parametrize("spec", ["a/b/c/d", "./missing-folder", "/no/such/dir"])
def test_paths_that_do_not_exist(spec):
    with pytest.raises(WECLError) as error:
        WECL.from_pretrained(spec)
    message = str(error.value)
    assert spec in message and "no such folder" in message


def test_invalid_repo_id_in_process():
    with pytest.raises(WECLError, match="neither a folder nor a valid Hub repo id") as error:
        WECL.from_pretrained("bad id!")
    assert "bad id!" in str(error.value)


def _hub_cache(root, model_folder):
    """models--owner--name with refs/main -> COMMIT (real files) and refs/v1 -> TAG_COMMIT (files
    as symlinks into blobs/, as huggingface_hub writes them)."""
    repo = root / "models--owner--name"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    (repo / "refs" / "v1").write_text(TAG_COMMIT)
    shutil.copytree(model_folder, repo / "snapshots" / COMMIT)
    (repo / "blobs").mkdir()
    tagged = repo / "snapshots" / TAG_COMMIT
    tagged.mkdir(parents=True)
    for name in checkpoints.FILES:
        data = (model_folder / name).read_bytes()
        if name == "config.json":  # another revision: another theta
            config = json.loads(data)
            config["theta"] = 0.55
            data = json.dumps(config).encode()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        os.symlink(os.path.relpath(blob, tagged), tagged / name)
    return root


LOADER = """
import json, sys
from wecl.model import WECL
from wecl.errors import WECLError
out = []
for spec in sys.argv[1:]:
    try:
        m = WECL.from_pretrained(spec)
        out.append({"spec": spec, "id": m.checkpoint.id, "revision": m.checkpoint.revision,
                    "path": str(m.checkpoint.path), "theta": m.config.theta})
    except WECLError as e:
        out.append({"spec": spec, "error": str(e)})
print(json.dumps(out))
"""


@pytest.mark.slow
def test_hub_cache_offline(tiny_checkpoint, tmp_path):
    hub = _hub_cache(tmp_path / "hf" / "hub", tiny_checkpoint)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "HF_HUB_CACHE": str(hub),
           "HF_ENDPOINT": "http://127.0.0.1:9"}
    specs = ["owner/name", "owner/name@main", f"owner/name@{COMMIT}", "owner/name@v1",
             "owner/other", "owner/name@no-such-branch", "bad id!", "a/b/c/d"]
    done = subprocess.run([sys.executable, "-c", LOADER, *specs], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = {r["spec"]: r for r in json.loads(done.stdout)}
    snapshot = hub / "models--owner--name" / "snapshots"
    for spec in ("owner/name", "owner/name@main", f"owner/name@{COMMIT}"):
        r = results[spec]
        assert "error" not in r, r
        assert r["id"] == "owner/name" and r["revision"] == COMMIT  # the commit, not the branch name
        assert r["path"] == str(snapshot / COMMIT)
        assert r["theta"] == 0.7
    tagged = results["owner/name@v1"]
    assert tagged.get("revision") == TAG_COMMIT and tagged["theta"] == 0.55, tagged
    for spec in ("owner/other", "owner/name@no-such-branch"):
        message = results[spec]["error"]
        assert spec in message and "not in the local Hub cache" in message, message
    assert "nor a valid Hub repo id" in results["bad id!"]["error"]
    assert "no such folder" in results["a/b/c/d"]["error"]


def test_repo_not_in_cache_offline_in_process():
    # conftest sets HF_HUB_OFFLINE=1 and an empty HF_HOME before huggingface_hub is imported
    with pytest.raises(WECLError) as error:
        WECL.from_pretrained("owner/definitely-not-cached", revision="main")
    message = str(error.value)
    assert "owner/definitely-not-cached@main" in message
    assert "not in the local Hub cache" in message and "local folder" in message


def test_one_model_per_checkpoint_however_it_is_spelled(tiny_checkpoint, monkeypatch):
    """20 spellings of one folder share one loaded model; the cache keeps a few models at most."""
    import os

    from wecl import inference

    monkeypatch.chdir(tiny_checkpoint.parent)
    name = tiny_checkpoint.name
    spellings = [name, f"./{name}", f"{name}/", f"./{name}/", str(tiny_checkpoint)] + \
        ["/".join(["."] * n + [name]) for n in range(2, 17)]
    assert len(set(spellings)) == 20
    models = {id(inference.load_model(s, device="cpu")) for s in spellings}
    assert len(models) == 1
    before = len(inference._models)
    assert before <= inference.MODEL_CACHE_SIZE
    os.utime(tiny_checkpoint / "model.safetensors")  # new weights in place: loaded again
    assert id(inference.load_model(name, device="cpu")) not in models
    assert len(inference._models) <= inference.MODEL_CACHE_SIZE


def test_sharded_save_and_load_give_the_same_model(tiny_checkpoint, tmp_path, media):
    """Weights over the shard size go to shards + index (the Hub's layout) and load back to the same
    outputs; a save in the other layout removes the old files; a missing shard is a message."""
    import torch

    from wecl.errors import WECLError
    from wecl.inference import predict

    model = WECL.from_pretrained(tiny_checkpoint)
    folder = tmp_path / "sharded"
    checkpoints.save(model, folder, max_shard_bytes=64 * 1024)
    shards = sorted(folder.glob("model-*-of-*.safetensors"))
    assert len(shards) > 2 and (folder / weights.INDEX).is_file() and not (folder / "model.safetensors").exists()
    weight_map = json.loads((folder / weights.INDEX).read_text())["weight_map"]
    for shard in shards:  # a shard stays under the size unless one tensor alone is bigger
        keys = [k for k, name in weight_map.items() if name == shard.name]
        assert len(keys) == 1 or shard.stat().st_size < 64 * 1024 + 16 * 1024, shard.name
    again = WECL.from_pretrained(folder)
    for key, value in model.state_dict().items():
        assert torch.equal(again.state_dict()[key], value), key
    assert predict(media("av"), again).json["probabilities"] == predict(media("av"), model).json["probabilities"]
    assert again.checkpoint.fingerprint != model.checkpoint.fingerprint  # of the shards, not of one file
    checkpoints.save(model, folder)  # back to one file: no stale shard or index is left to win
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    checkpoints.save(model, folder, max_shard_bytes=64 * 1024)
    shards[1].unlink()
    with pytest.raises(WECLError, match="shard .* is missing"):
        WECL.from_pretrained(folder)


def test_no_tracked_file_is_too_big_for_a_space():
    """A Hugging Face Space's git refuses files over 10 MiB that LFS does not track."""
    import subprocess

    listed = subprocess.run(["git", "ls-files", "-z"], cwd=checkpoints.PROJECT_ROOT, capture_output=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    files = [checkpoints.PROJECT_ROOT / name for name in listed.stdout.decode().split("\0") if name]
    big = [str(p) for p in files if p.is_file() and p.stat().st_size > 10 * 2**20]
    assert files and big == []


def test_half_precision_backbones(tiny_checkpoint, tmp_path):
    """bf16/fp16 backbones: smaller files, loaded as float32 with exactly the rounded values; the
    heads keep full precision; the card says so; the feature-cache key is that of the loaded tensors."""
    import torch

    model = WECL.from_pretrained(tiny_checkpoint)
    full = tmp_path / "fp32"
    checkpoints.save(model, full)
    for dtype, torch_dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
        folder = tmp_path / dtype
        checkpoints.save(model, folder, backbone_dtype=dtype)
        assert (folder / "model.safetensors").stat().st_size < 0.8 * (full / "model.safetensors").stat().st_size
        assert f"stored in {dtype}" in (folder / "README.md").read_text()
        again = WECL.from_pretrained(folder)
        for key, value in model.state_dict().items():
            got = again.state_dict()[key]
            assert got.dtype == value.dtype, key
            if key.startswith(("visual_backbone.", "audio_backbone.")) and value.is_floating_point():
                assert torch.equal(got, value.to(torch_dtype).float()), key
            else:
                assert torch.equal(got, value), key  # heads and integer buffers unchanged
        assert any(not torch.equal(again.state_dict()[k], v) for k, v in model.state_dict().items())
        assert again.backbone_key == weights.backbone_digests(again)[1] != model.backbone_key
        # the model cache hashes the file's bytes as it loads them (cast to float32): the same key
        assert inference.load_model(str(folder), device="cpu")._backbone_key == again.backbone_key
    with pytest.raises(WECLError, match="backbone dtype"):
        checkpoints.save(model, tmp_path / "x", backbone_dtype="int8")


def test_models_with_the_same_backbones_share_them(tiny_checkpoint, tmp_path, media):
    """Through the model cache, checkpoints whose backbone tensors are identical hold one backbone
    module; their heads stay their own and predictions equal those of unshared copies."""
    import gc
    import weakref

    import torch

    from wecl import inference
    from wecl.inference import predict

    base = WECL.from_pretrained(tiny_checkpoint)
    with torch.no_grad():  # backbones no other test loads
        next(base.visual_backbone.parameters()).add_(0.125)
        next(base.audio_backbone.parameters()).add_(0.125)
    checkpoints.save(base, tmp_path / "base")
    torch.manual_seed(5)
    for module in base.heads.modules():
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, std=0.05)
    checkpoints.save(base, tmp_path / "other-heads")
    with torch.no_grad():
        next(base.audio_backbone.parameters()).add_(0.01)
    checkpoints.save(base, tmp_path / "other-audio")

    a = inference.load_model(str(tmp_path / "base"), device="cpu")
    b = inference.load_model(str(tmp_path / "other-heads"), device="cpu")
    c = inference.load_model(str(tmp_path / "other-audio"), device="cpu")
    assert a.visual_backbone is b.visual_backbone is c.visual_backbone
    assert a.audio_backbone is b.audio_backbone and c.audio_backbone is not a.audio_backbone
    assert a.heads is not b.heads
    assert a.backbone_key == b.backbone_key != c.backbone_key
    for shared in (a, b, c):
        own = WECL.from_pretrained(shared.checkpoint.path)
        own.precision = shared.precision
        assert own.visual_backbone is not shared.visual_backbone  # plain loads are private copies
        assert predict(media("av"), shared).json["probabilities"] == predict(media("av"), own).json["probabilities"]
    # a shared module lives as long as a cached model uses it
    modules = [weakref.ref(m) for m in (a.visual_backbone, a.audio_backbone, c.audio_backbone)]
    for key in [k for k in inference._models if k[0].startswith(str(tmp_path))]:
        del inference._models[key]
    del a, b, c, shared, own
    gc.collect()
    assert [ref() for ref in modules] == [None, None, None]


PEAK = """
import sys
from wecl.model import WECL
def kb(name):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(name))
warm = WECL.from_pretrained(sys.argv[2])  # first-use costs of torch and safetensors are not the weights'
print(sum(float(v.float().sum()) for v in warm.state_dict().values()) is not None)
before = kb("VmRSS:")
model = WECL.from_pretrained(sys.argv[1])
print(sum(float(v.float().sum()) for v in model.state_dict().values()) is not None)
print(before, kb("VmHWM:"))
"""


@pytest.mark.slow
def test_loading_holds_the_weights_once(tmp_path, tiny_checkpoint):
    """Weights are memory-mapped into the model: no random initialisation and no second copy, so
    the peak while loading (and touching every weight) stays near the weights' size."""
    import torch

    from helpers import tiny_config
    from wecl import WECL

    torch.manual_seed(0)
    model = WECL(tiny_config(visual_depth=50, audio_depth=50, visual_width=0.5, audio_width=0.5, relation_dim=512))
    checkpoints.save(model, tmp_path / "mid")
    size = (tmp_path / "mid" / "model.safetensors").stat().st_size
    assert size > 40 * 2**20
    done = subprocess.run([sys.executable, "-c", PEAK, str(tmp_path / "mid"), str(tiny_checkpoint)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    before, peak = map(int, done.stdout.split()[-2:])
    assert (peak - before) * 1024 < 1.2 * size, (peak - before, size // 1024)


OVERWRITE = """
import sys
import torch
from wecl.model import WECL
model = WECL.from_pretrained(sys.argv[1])
with open(sys.argv[2], "r+b") as handle:  # `cp other model.safetensors` rewrites the file in place
    handle.truncate(64)
x = torch.randn(1, 10, model.heads.classifier.in_features // 2)
print(float(model(x, x).logits.sum()) == float(model(x, x).logits.sum()))
"""


def test_a_file_overwritten_in_place_does_not_crash_a_loaded_model(tiny_checkpoint, tmp_path):
    """Local files are read, not mapped: truncating one under a loaded model (a mapped file would
    raise SIGBUS at the next forward pass) changes nothing for that model."""
    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, folder)
    done = subprocess.run([sys.executable, "-c", OVERWRITE, str(folder), str(folder / "model.safetensors")],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "True", (done.returncode, done.stderr)


def test_hub_cache_files_are_memory_mapped(tiny_checkpoint, tmp_path):
    """Hub cache blobs never change in place: their tensors are the mapped file's, without a copy."""
    hub = _hub_cache(tmp_path / "hf" / "hub", tiny_checkpoint)
    snapshot = hub / "models--owner--name" / "snapshots"
    blob = weights.StoredWeights([snapshot / TAG_COMMIT / "model.safetensors"], "tagged")
    copied = weights.StoredWeights([snapshot / COMMIT / "model.safetensors"], "copied")  # a plain file
    assert weights.immutable(snapshot / TAG_COMMIT / "model.safetensors") and blob.mapped
    assert not weights.immutable(snapshot / COMMIT / "model.safetensors") and not copied.mapped
    key = next(iter(blob.places))
    import torch

    assert blob.tensor(key, blob.places[key][3]) is blob.mapped[key]
    assert torch.equal(blob.tensor(key, torch.float32), copied.tensor(key, torch.float32))


def test_published_files_carry_no_machine_path():
    """The held-out figures bundled with a checkpoint name it relative to the checkout, not this machine's folder."""
    from pathlib import Path

    from wecl.checkpoints import PROJECT_ROOT, project_relative

    assert project_relative(PROJECT_ROOT / "checkpoints" / "x") == "checkpoints/x"
    assert project_relative("/elsewhere/ckpt") == "/elsewhere/ckpt"
    found = sorted((PROJECT_ROOT / "checkpoints").glob("*/heldout_seed*.json"))
    assert found
    for path in found:
        assert not Path(json.loads(path.read_text())["checkpoint"]["id"]).is_absolute(), path
