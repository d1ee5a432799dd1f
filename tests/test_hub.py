"""The Hub for real, over HTTP: a local server speaking the Hub's protocol (tests/hub_server.py)
reached through HF_ENDPOINT by the unpatched huggingface_hub client, in subprocesses (the client
reads its endpoint and offline switch when first imported; conftest makes this process offline).

Loading: branch, tag and commit-sha pinning, missing repo / revision, a gated repo's 401, a
download cut off half-way and resumed, the cache once the server is gone. Publishing: `wecl push`
and `python -m explorer.space` and their messages for no token, a refused token, no permission, no network.
"""
import json
import os
import subprocess
import sys

import pytest

from helpers import CLASSES, REPO, free_port
from hub_server import FakeHub
from wecl import checkpoints, weights
from wecl.model import WECL

TOKEN = "hf_test_owner_token"

LOADER = """
import json, sys
from wecl.errors import WECLError
from wecl.model import WECL
out = {}
for spec in sys.argv[1:]:
    try:
        m = WECL.from_pretrained(spec)
        out[spec] = {"id": m.checkpoint.id, "revision": m.checkpoint.revision, "theta": m.config.theta,
                     "fingerprint": m.checkpoint.fingerprint}
    except WECLError as e:
        out[spec] = {"error": str(e)}
print(json.dumps(out))
"""


def hub_env(tmp_path, endpoint: str, token: str | None = TOKEN) -> dict:
    """The environment of a process that talks to `endpoint` with its own Hub cache."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_TOKEN")}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(tmp_path / "hf"), HF_HUB_CACHE=str(tmp_path / "hf" / "hub"),
               HF_TOKEN_PATH=str(tmp_path / "hf" / "no-token"), HF_HUB_DISABLE_TELEMETRY="1",
               HF_HUB_DOWNLOAD_TIMEOUT="10", HF_HUB_ETAG_TIMEOUT="5")
    if token:
        env["HF_TOKEN"] = token
    return env


def run_wecl(*args, env: dict, module: str = "wecl") -> subprocess.CompletedProcess:
    """`python -m wecl ARGS` (or another `module`) with exactly `env` (conftest's offline switch left out)."""
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=240)


def deploy(*args, env: dict) -> subprocess.CompletedProcess:
    """`python -m explorer.space ARGS`: the app's own deploy command."""
    return run_wecl(*args, env=env, module="explorer.space")


def load_specs(env: dict, *specs: str) -> dict:
    done = subprocess.run([sys.executable, "-c", LOADER, *specs], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def folder_files(folder, **config_changes) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    if config_changes:
        config = json.loads(files["config.json"])
        config.update(config_changes)
        files["config.json"] = json.dumps(config).encode()
    return files


@pytest.fixture
def big(tmp_path):
    """A one-file checkpoint of about 30 MB: a download cut off half-way has already written whole
    10 MB chunks (huggingface_hub's unit), so its retry must ask for the rest with a range."""
    import torch

    from helpers import tiny_config
    from wecl.model import WECL

    torch.manual_seed(0)
    folder = tmp_path / "big"
    checkpoints.save(WECL(tiny_config(visual_depth=18, visual_width=0.5, relation_dim=64)), folder)
    assert (folder / "model.safetensors").stat().st_size > 24 * 2**20
    return folder


@pytest.fixture
def sharded(tiny_checkpoint, tmp_path):
    """The tiny checkpoint as shards + index (several files to download)."""
    folder = tmp_path / "sharded"
    checkpoints.save(WECL.from_pretrained(tiny_checkpoint), folder, max_shard_bytes=256 * 1024)
    return folder


def test_loading_over_the_hub_protocol(sharded, big, tmp_path):
    with FakeHub(tokens={TOKEN: "owner"}) as hub:
        repo = hub.add_repo("owner/tiny", folder_files(sharded, theta=0.55))
        first = repo.refs["main"]
        repo.refs["v1"] = first
        repo.tags.add("v1")
        second = repo.commit(folder_files(sharded), "theta 0.7")
        hub.add_repo("owner/gated", folder_files(sharded), gated=True)
        hub.add_repo("other/private", folder_files(sharded), private=True)
        hub.add_repo("owner/big", folder_files(big))
        hub.drop_once.add("model.safetensors")
        env = hub_env(tmp_path, hub.url, token=None)
        got = load_specs(env, "owner/tiny", "owner/tiny@v1", f"owner/tiny@{first}", "owner/tiny@nope",
                         "owner/missing", "owner/gated", "other/private", "owner/big")
        # the connection dropped half-way through the big file; the client asked for the rest
        ranged = [r for r in hub.requests if r[0] == "GET" and r[1].endswith("/model.safetensors") and r[2]]
        assert len(ranged) == 1 and int(ranged[0][2][6:-1]) >= 10 * 2**20, hub.requests
    local = WECL.from_pretrained(sharded).checkpoint.fingerprint
    assert got["owner/big"]["fingerprint"] == WECL.from_pretrained(big).checkpoint.fingerprint  # resumed intact
    assert got["owner/tiny"] == {"id": "owner/tiny", "revision": second, "theta": 0.7, "fingerprint": local}
    assert got["owner/tiny@v1"]["revision"] == first and got["owner/tiny@v1"]["theta"] == 0.55
    assert got[f"owner/tiny@{first}"]["revision"] == first and got[f"owner/tiny@{first}"]["theta"] == 0.55
    assert "has no revision 'nope'" in got["owner/tiny@nope"]["error"]
    assert "no such Hub repo" in got["owner/missing"]["error"]
    assert "gated" in got["owner/gated"]["error"] and "accept its conditions" in got["owner/gated"]["error"]
    assert "no such Hub repo" in got["other/private"]["error"]
    # the server is gone: what was downloaded loads from the cache, by branch, tag or commit
    cached = load_specs(env, "owner/tiny", "owner/tiny@v1", f"owner/tiny@{second}", "owner/never-seen")
    assert cached["owner/tiny"]["revision"] == second and cached["owner/tiny"]["fingerprint"] == local
    assert cached["owner/tiny@v1"]["revision"] == first
    assert cached[f"owner/tiny@{second}"]["theta"] == 0.7
    assert "not in the local Hub cache and the Hub cannot be reached" in cached["owner/never-seen"]["error"]


def test_push_a_checkpoint_and_load_it_back(tiny_checkpoint, sharded, tmp_path):
    with FakeHub(tokens={TOKEN: "owner", "hf_read_only": "reader"}) as hub:
        env = hub_env(tmp_path, hub.url)
        done = run_wecl("push", tiny_checkpoint, "owner/wecl-tiny", "--tag", "v1", env=env)
        assert done.returncode == 0, done.stderr
        repo = hub.repo("owner/wecl-tiny")
        sha = repo.refs["main"]
        assert f"commit: {hub.url}/owner/wecl-tiny/commit/{sha}" in done.stdout
        assert repo.refs["v1"] == sha
        files = repo.commits[sha]
        assert {"config.json", "model.safetensors", "README.md"} <= set(files)
        for name in ("config.json", "model.safetensors"):
            assert files[name] == (tiny_checkpoint / name).read_bytes()
        card = files["README.md"].decode()
        assert card.startswith("---\nlibrary_name: wecl\n") and "pipeline_tag: video-classification" in card
        assert "## Citation" in card and "Cross-Modal Temporal Erasing Network" in card
        assert "## Switches (paper Table 2)" in card
        loaded = load_specs(env, "owner/wecl-tiny@v1")["owner/wecl-tiny@v1"]
        assert loaded["revision"] == sha
        assert loaded["fingerprint"] == WECL.from_pretrained(tiny_checkpoint).checkpoint.fingerprint

        # the same repo, now sharded, on a branch: the branch has no stale model.safetensors; main is untouched
        done = run_wecl("push", sharded, "owner/wecl-tiny", "--revision", "dev", env=env)
        assert done.returncode == 0, done.stderr
        dev = repo.commits[repo.refs["dev"]]
        assert "model.safetensors" not in dev and weights.INDEX in dev
        assert repo.refs["main"] == sha
        loaded = load_specs(env, "owner/wecl-tiny@dev")["owner/wecl-tiny@dev"]
        assert loaded["fingerprint"] == WECL.from_pretrained(sharded).checkpoint.fingerprint

        failures = {
            "no token": run_wecl("push", tiny_checkpoint, "owner/x", env=hub_env(tmp_path, hub.url, token=None)),
            "refused": run_wecl("push", tiny_checkpoint, "owner/x", env=hub_env(tmp_path, hub.url, token="hf_wrong")),
            "permission": run_wecl("push", tiny_checkpoint, "owner/wecl-tiny",
                                   env=hub_env(tmp_path, hub.url, token="hf_read_only")),
            "broken": run_wecl("push", tmp_path, "owner/x", env=env),
            "bad id": run_wecl("push", tiny_checkpoint, "not a repo", env=env),
        }
        before = {k: dict(v.refs) for k, v in hub.repos.items()}
    dead = f"http://127.0.0.1:{free_port()}"
    failures["no network"] = run_wecl("push", tiny_checkpoint, "owner/x", env=hub_env(tmp_path, dead))
    expected = {"no token": "no Hugging Face token", "refused": "refused the token",
                "permission": "may not write there", "broken": "config.json is missing",
                "bad id": "is not a Hub repo id", "no network": "cannot reach the Hub"}
    for case, done in failures.items():
        assert done.returncode == 2, (case, done.stderr)
        assert expected[case] in done.stderr and "Traceback" not in done.stderr, (case, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, (case, done.stderr)
    assert "owner/x" not in {k[1] for k in before}  # nothing was created by a failed push


def test_deploy_a_space(tiny_checkpoint, tmp_path):
    with FakeHub(tokens={TOKEN: "owner"}) as hub:
        model = hub.add_repo("owner/wecl-tiny", folder_files(tiny_checkpoint))
        sha = model.refs["main"]
        env = hub_env(tmp_path, hub.url)
        done = deploy("owner/explorer", "--checkpoint", "owner/wecl-tiny@main",
                        "--hardware", "zero-a10g", env=env)
        assert done.returncode == 0, done.stderr
        space = hub.repo("owner/explorer", "space")
        files = space.commits[space.refs["main"]]
        assert space.sdk == "gradio" and space.hardware == "zero-a10g"
        assert {"app.py", "wecl/__init__.py", "wecl/hub.py", "requirements.txt", "README.md",
                "checkpoints/registry.json", "assets/examples/synth_99_0000.mp4"} <= set(files)
        assert not any(name.startswith(("tests/", "docs/", "assets/screenshots/")) or "__pycache__" in name
                       for name in files)
        registry = json.loads(files["checkpoints/registry.json"])
        assert registry["default"] == "owner/wecl-tiny@main"
        [entry] = registry["checkpoints"]
        assert entry["name"] == "owner/wecl-tiny@main" and entry["repo_id"] == "owner/wecl-tiny"
        assert entry["revision"] == sha and entry["classes"] == CLASSES and "path" not in entry
        card = files["README.md"].decode()
        front = card.split("---\n")[1]
        assert "sdk: gradio\n" in front and "app_file: app.py\n" in front and "sdk_version: " in front
        assert f"  - owner/wecl-tiny README.md,config.json,model.safetensors {sha}\n" in front
        requirements = files["requirements.txt"].decode().splitlines()
        assert "torch==2.13.0" in requirements and "spaces" in requirements
        assert not any(line.startswith("gradio") for line in requirements)

        # again, with the bundled checkpoints: their files travel, the pinned Hub entry is gone
        done = deploy("owner/explorer", env=env)
        assert done.returncode == 0, done.stderr
        files = space.commits[space.refs["main"]]
        assert space.hardware == "cpu-basic"
        assert json.loads(files["checkpoints/registry.json"]) == checkpoints.registry()
        assert "preload_from_hub" not in files["README.md"].decode()
        tracked = [p for p in (REPO / "checkpoints" / "wecl-synth-demo").iterdir()]
        assert all(files[f"checkpoints/wecl-synth-demo/{p.name}"] == p.read_bytes() for p in tracked)
        assert "spaces" not in files["requirements.txt"].decode().splitlines()

        missing = deploy("owner/explorer", "--checkpoint", "owner/no-such-model", env=env)
        assert missing.returncode == 2 and "no such Hub repo" in missing.stderr, missing.stderr
        bad = deploy("owner/explorer", "--checkpoint", "owner/wecl-tiny@nope", env=env)
        assert bad.returncode == 2 and "no such revision" in bad.stderr, bad.stderr
        folder = deploy("owner/explorer", "--checkpoint", tiny_checkpoint, env=env)
        assert folder.returncode == 2 and "publish this folder first" in folder.stderr, folder.stderr
        hub.add_repo("owner/not-wecl", {"config.json": b'{"model_type": "bert"}'})
        alien = deploy("owner/explorer", "--checkpoint", "owner/not-wecl", env=env)
        assert alien.returncode == 2 and "unknown keys" in alien.stderr, alien.stderr


def test_hub_cache_paths_are_never_trusted_for_files(tmp_path, sharded):
    """An index naming a shard outside its folder is refused, also when it came from the Hub."""
    files = folder_files(sharded)
    index = json.loads(files[weights.INDEX])
    key = next(iter(index["weight_map"]))
    index["weight_map"][key] = "../../../../etc/passwd"
    files[weights.INDEX] = json.dumps(index).encode()
    with FakeHub() as hub:
        hub.add_repo("owner/evil", files)
        got = load_specs(hub_env(tmp_path, hub.url, token=None), "owner/evil")["owner/evil"]
    assert "is missing" in got["error"], got  # the path named by the index is not opened


def test_a_model_pushes_itself_to_the_hub(tiny_checkpoint, tmp_path):
    """`WECL.push_to_hub` beside `from_pretrained` / `save_pretrained` (issue 24): one commit of its
    config, weights and card, tagged, that loads back as the same weights."""
    code = ("import sys; from wecl import WECL; m = WECL.from_pretrained(sys.argv[1]); "
            "done = m.push_to_hub('owner/pushed', tag='v2'); print(done.commit, done.tag)")
    with FakeHub(tokens={TOKEN: "owner"}) as hub:
        env = hub_env(tmp_path, hub.url)
        done = subprocess.run([sys.executable, "-c", code, str(tiny_checkpoint)], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=240)
        assert done.returncode == 0, done.stderr
        sha, tag = done.stdout.split()
        repo = hub.repo("owner/pushed")
        assert repo.refs["main"] == sha == repo.refs["v2"] and tag == "v2"
        assert {"config.json", "model.safetensors", "README.md"} <= set(repo.commits[sha])
        loaded = load_specs(env, "owner/pushed@v2")["owner/pushed@v2"]
        assert loaded["fingerprint"] == WECL.from_pretrained(tiny_checkpoint).checkpoint.fingerprint
        refused = subprocess.run([sys.executable, "-c", code, str(tiny_checkpoint)], cwd=REPO,
                                 env=hub_env(tmp_path, hub.url, token=None), capture_output=True, text=True, timeout=240)
        assert refused.returncode != 0 and "no Hugging Face token" in refused.stderr
