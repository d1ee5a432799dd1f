"""Publishing on the Hugging Face Hub: a checkpoint as a model repo (`python -m wecl push`) and the
explorer as a Gradio Space (`python -m wecl space`). Downloading lives in `checkpoints`.

Every Hub problem a user can cause (no token, a refused token, no permission, no network, a
missing repo or revision) leaves as one WECLError sentence; nothing local is changed by a push.
"""
from __future__ import annotations

import fnmatch
import json
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from wecl import checkpoints
from wecl.config import WECLConfig
from wecl.errors import WECLError
from wecl.model import WECL

# What a checkpoint repo holds besides the weights, config and card, when the folder has them.
EXTRAS = ("train_log.csv", "summary.json")
WEIGHT_PATTERNS = ("model.safetensors", checkpoints.INDEX, "model-*-of-*.safetensors")
HARDWARE = ("cpu-basic", "cpu-upgrade", "zero-a10g", "t4-small", "t4-medium", "a10g-small", "a10g-large", "l4x1")
# The Space is the app (app.py, ui/, its CSS) and the package; nothing else of this repo (tests, docs, screenshots).
SPACE_FILES = ("app.py", "ui/**/*.py", "wecl/**/*.py", "assets/app.css", "assets/player.js", "assets/examples/*",
               "assets/samples/*")


@dataclass(frozen=True)
class Published:
    repo_id: str
    commit_url: str
    commit: str
    revision: str  # the branch committed to
    tag: str | None = None


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _api(what: str, token: str | None):
    """An HfApi with a token, or a sentence saying why there is none."""
    from huggingface_hub import HfApi, get_token

    if _offline():
        raise WECLError(f"{what}: the Hub is switched off here (HF_HUB_OFFLINE is set); unset it to publish")
    token = token or get_token()
    if not token:
        raise WECLError(f"{what}: no Hugging Face token; log in with `hf auth login` or set HF_TOKEN "
                        "to a token with write access")
    return HfApi(token=token)


@contextmanager
def _hub_errors(what: str):
    """Turn what huggingface_hub and the network raise into one sentence."""
    from huggingface_hub import constants
    from huggingface_hub import errors as hf

    try:
        yield
    except WECLError:
        raise
    except hf.RevisionNotFoundError:
        raise WECLError(f"{what}: no such revision on the Hub") from None
    except hf.GatedRepoError:
        raise WECLError(f"{what}: the repo is gated; accept its conditions on its Hub page first") from None
    except hf.RepositoryNotFoundError:
        raise WECLError(f"{what}: no such Hub repo, or the token may not see it") from None
    except hf.HfHubHTTPError as error:
        status = getattr(error.response, "status_code", None)
        server = (getattr(error, "server_message", None) or "").strip().splitlines()
        detail = f" (the Hub said: {server[0]})" if server else ""
        if status == 401:
            raise WECLError(f"{what}: the Hub refused the token (invalid or expired); log in again{detail}") from None
        if status == 403:
            raise WECLError(f"{what}: this token may not write there (no permission: a read-only token, "
                            f"or another user's or organisation's namespace){detail}") from None
        raise WECLError(f"{what}: the Hub answered HTTP {status}{detail}") from None
    except Exception as error:  # httpx, sockets, DNS: the network stacks raise many types
        if type(error).__name__ in ("ConnectError", "ConnectTimeout", "ReadTimeout", "TimeoutException",
                                    "ConnectionError", "RemoteProtocolError", "ReadError"):
            raise WECLError(f"{what}: cannot reach the Hub at {constants.ENDPOINT} (no network?): {error}") from None
        raise WECLError(f"{what}: {type(error).__name__}: {error}") from None


def _check_repo_id(repo_id: str, what: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}", repo_id or ""):
        raise WECLError(f"{what}: {repo_id!r} is not a Hub repo id (owner/name)")
    return repo_id


def push_checkpoint(folder: str | os.PathLike, repo_id: str, revision: str | None = None, tag: str | None = None,
                    private: bool = False, token: str | None = None, message: str | None = None) -> Published:
    """Upload a checkpoint folder to a Hub model repo in one commit: config, weights (one file or
    shards + index; weights of the other layout left from an earlier push are deleted), the model
    card with front matter and citation, and the training log when there is one. The folder is
    loaded first: a checkpoint that does not load is not published."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    folder = Path(folder)
    what = f"push {repo_id}" + (f"@{revision}" if revision else "")
    _check_repo_id(repo_id, "push")
    if not folder.is_dir():
        raise WECLError(f"push: {folder} is not a checkpoint folder")
    api = _api(what, token)  # no token, no need to read the weights
    model = WECL.from_pretrained(folder)  # refuses a broken checkpoint with its own message
    files = {p.name: p for p in checkpoints.weight_files(folder)}
    if (folder / checkpoints.INDEX).is_file():
        files[checkpoints.INDEX] = folder / checkpoints.INDEX
    files["config.json"] = folder / "config.json"
    files.update({name: folder / name for name in EXTRAS if (folder / name).is_file()})
    card = checkpoints.published_card(folder, model.config).encode()
    branch = revision or "main"
    with _hub_errors(what):
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        if branch != "main":
            api.create_branch(repo_id, branch=branch, exist_ok=True)
        remote = set(api.list_repo_files(repo_id, revision=branch))
        stale = [name for name in remote if name not in files
                 and any(fnmatch.fnmatch(name, pattern) for pattern in WEIGHT_PATTERNS)]
        operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(path)) for name, path in sorted(files.items())]
        operations.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=card))
        operations += [CommitOperationDelete(path_in_repo=name) for name in sorted(stale)]
        info = api.create_commit(repo_id, operations, commit_message=message or f"Upload WECL checkpoint {folder.name}",
                                 revision=branch)
        if tag:
            api.create_tag(repo_id, tag=tag, revision=info.oid, tag_message=f"WECL checkpoint {folder.name}")
    return Published(repo_id, info.commit_url, info.oid, branch, tag)


def space_card(title: str, hardware: str, preload: list[str], models: list[str]) -> str:
    """The Space's README: Hub front matter (sdk, its version, hardware, preload_from_hub) + a line."""
    from importlib.metadata import version

    lines = ["---", f"title: {title}", "emoji: 🎬", "colorFrom: indigo", "colorTo: pink", "sdk: gradio",
             f"sdk_version: {version('gradio')}", 'python_version: "3.11"', "app_file: app.py", "pinned: false",
             f"suggested_hardware: {hardware}", "tags: [video-emotion, wecl, explainability]"]
    if models:
        lines += ["models:"] + [f"  - {m}" for m in models]
    if preload:
        lines += ["preload_from_hub:"] + [f"  - {entry}" for entry in preload]
    lines += ["---", "", f"# {title}", "",
              "Upload a video and see what the WECL network (Zhang et al., CVPR 2023, \"Weakly Supervised "
              "Video Emotion Detection and Prediction via Cross-Modal Temporal Erasing Network\") predicts, "
              "how much attention each segment gets, which segments temporal erasing removes round by round, "
              "and how they compare with annotated keyframes.", "",
              "Checkpoints: " + (", ".join(f"`{m}`" for m in models) if models else "the bundled demo checkpoints") + ".",
              "", "## Citation", "", "```bibtex", checkpoints.CITATION, "```", ""]
    return "\n".join(lines)


def space_requirements(hardware: str) -> str:
    """requirements.txt for the Space: the app's, without gradio (the Space installs the card's
    sdk_version), with `spaces` on ZeroGPU hardware."""
    text = (checkpoints.PROJECT_ROOT / "requirements.txt").read_text()
    kept = [line for line in text.splitlines() if not re.match(r"\s*gradio\b", line)]
    if hardware.startswith("zero"):
        kept.append("spaces")
    return "\n".join(kept) + "\n"


def _space_files() -> dict[str, Path]:
    root = checkpoints.PROJECT_ROOT
    found = {}
    for pattern in SPACE_FILES:
        for path in root.glob(pattern):
            if path.is_file() and "__pycache__" not in path.parts:
                found[path.relative_to(root).as_posix()] = path
    return found


def _hub_checkpoint(api, spec: str) -> dict:
    """A registry entry for `owner/name[@rev]`, pinned to the commit the revision is now, with
    the classes and description of its config.json (which must be a WECL config)."""
    repo_id, revision = checkpoints.parse_spec(spec)
    if checkpoints.path_exists(str(Path(spec).expanduser())):
        raise WECLError(f"--checkpoint {spec}: a Space loads checkpoints from the Hub; publish this folder first "
                        f"with `python -m wecl push {spec} OWNER/NAME`")
    _check_repo_id(repo_id, f"--checkpoint {spec}")
    with _hub_errors(f"checkpoint {spec}"):
        info = api.model_info(repo_id, revision=revision)
        names = [s.rfilename for s in info.siblings or []]
        if "config.json" not in names:
            raise WECLError(f"checkpoint {spec}: the Hub repo has no config.json; is it a WECL checkpoint?")
        config = WECLConfig.load(Path(api.hf_hub_download(repo_id, "config.json", revision=info.sha)))
    wanted = [n for n in names if any(fnmatch.fnmatch(n, p) for p in checkpoints.HUB_PATTERNS)]
    return {"name": spec, "repo_id": repo_id, "revision": info.sha, "classes": config.classes,
            "dataset": "see the model card", "description": config.description or f"{config.training} WECL checkpoint",
            "files": sorted(wanted)}


def deploy_space(space_id: str, checkpoint_specs: list[str] | None = None, hardware: str = "cpu-basic",
                 private: bool = False, token: str | None = None, title: str = "WECL Explorer") -> Published:
    """Create or update a Gradio Space holding this repo's app, package and examples, and a
    checkpoint registry: the given Hub checkpoints (each pinned to a commit and preloaded at build
    time), or the bundled checkpoints when none is given. Files of an earlier deploy that are not
    part of this one are deleted, so the Space is exactly what this call sends."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    what = f"space {space_id}"
    _check_repo_id(space_id, "space")
    if hardware not in HARDWARE:
        raise WECLError(f"space: hardware must be one of {', '.join(HARDWARE)}, not {hardware!r}")
    api = _api(what, token)
    files: dict[str, Path | bytes] = dict(_space_files())
    if checkpoint_specs:
        entries = [_hub_checkpoint(api, spec) for spec in checkpoint_specs]
        registry = {"default": entries[0]["name"],
                    "checkpoints": [{k: v for k, v in e.items() if k != "files"} for e in entries]}
        preload = [f"{e['repo_id']} {','.join(e['files'])} {e['revision']}" for e in entries]
        models = [e["repo_id"] for e in entries]
    else:  # the bundled checkpoints, as files of the Space
        registry = checkpoints.registry()
        for entry in registry["checkpoints"]:
            if entry.get("path"):
                folder = checkpoints.PROJECT_ROOT / entry["path"]
                for path in folder.iterdir():
                    if path.is_file():
                        files[f"{entry['path']}/{path.name}"] = path
        preload, models = [], []
    files["checkpoints/registry.json"] = (json.dumps(registry, indent=2) + "\n").encode()
    files["requirements.txt"] = space_requirements(hardware).encode()
    files["README.md"] = space_card(title, hardware, preload, models).encode()
    with _hub_errors(what):
        api.create_repo(space_id, repo_type="space", space_sdk="gradio", space_hardware=hardware,
                        private=private, exist_ok=True)
        api.request_space_hardware(space_id, hardware)
        remote = set(api.list_repo_files(space_id, repo_type="space"))
        stale = sorted(name for name in remote - set(files) if name != ".gitattributes")
        operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=data if isinstance(data, bytes) else str(data))
                      for name, data in sorted(files.items())]
        operations += [CommitOperationDelete(path_in_repo=name) for name in stale]
        info = api.create_commit(space_id, operations, repo_type="space", commit_message="Deploy WECL Explorer")
    return Published(space_id, info.commit_url, info.oid, "main")
