"""Deploying the explorer as a Hugging Face Space: the app (app.py, ui/, explorer/, its assets), the
package and a checkpoint registry, committed to a Space repo.

    python -m explorer.space owner/name [--checkpoint owner/name[@REV] ...] [--hardware cpu-basic|zero-a10g|...]

Every Hub problem (no token, a refused token, no permission, no network) leaves as one sentence,
as `python -m wecl push` does (`wecl.hub`).
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import re
import sys
from pathlib import Path

from wecl import cards, checkpoints
from wecl.config import WECLConfig
from wecl.errors import WECLError
from wecl.hub import Published, _api, _check_repo_id, hub_errors

HARDWARE = ("cpu-basic", "cpu-upgrade", "zero-a10g", "t4-small", "t4-medium", "a10g-small", "a10g-large", "l4x1")
# The Space is the app (app.py, ui/, explorer/, its CSS and JS) and the package; nothing else of this repo
# (tests, docs, screenshots).
SPACE_FILES = ("app.py", "ui/**/*.py", "explorer/**/*.py", "wecl/**/*.py", "assets/app.css",
               "assets/player.js", "assets/examples/*", "assets/samples/*")


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
              "", "## Citation", "", "```bibtex", cards.CITATION, "```", ""]
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
    with hub_errors(f"checkpoint {spec}"):
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
    with hub_errors(what):
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m explorer.space", description="deploy the explorer as a Hugging Face Space")
    p.add_argument("space_id", help="the Space, owner/name (created if missing)")
    p.add_argument("--checkpoint", action="append", default=None, metavar="OWNER/NAME[@REV]",
                   help="a Hub checkpoint the Space offers (repeatable; the first is the default; each is "
                        "pinned to its current commit and preloaded at build time). Default: the bundled ones")
    p.add_argument("--hardware", default="cpu-basic", choices=HARDWARE, help="Space hardware (default cpu-basic)")
    p.add_argument("--private", action="store_true", help="create the Space private")
    p.add_argument("--title", default="WECL Explorer")
    args = p.parse_args(argv)
    try:
        done = deploy_space(args.space_id, args.checkpoint, hardware=args.hardware, private=args.private,
                            title=args.title)
    except WECLError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"deployed the explorer to the Space {done.repo_id} ({args.hardware})")
    print(f"commit: {done.commit_url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
