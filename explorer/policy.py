"""The explorer's path policy and registry look-ups: which checkpoints and dataset folders a
request may open, which bundled files are served, the examples and the checkpoint choices.
Plain data and `WECLError`s; the UI (`ui/`) turns them into components and messages."""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from explorer import dataset_run
from wecl import checkpoints
from wecl.annotations import VIDEO_EXTENSIONS
from wecl.config import WECLConfig, cache_root
from wecl.errors import WECLError
from wecl.hub import is_repo_id
from wecl.settings import settings

ASSETS = checkpoints.PROJECT_ROOT / "assets"
EXAMPLES = ASSETS / "examples"  # the Video tab's examples
SAMPLES = ASSETS / "samples"  # the Dataset tab's default folder
EXAMPLE_DIRS = [EXAMPLES, SAMPLES]
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def reachable_from_elsewhere() -> bool:
    """Whether visitors other than this machine's user may reach the app: a Hugging Face Space
    (SPACE_ID), an address other than loopback (GRADIO_SERVER_NAME), or a share link. Every
    "may this request open that" decision of the explorer takes this one answer."""
    return bool(os.environ.get("SPACE_ID")) or os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1") not in LOOPBACK \
        or os.environ.get("GRADIO_SHARE", "").lower() in ("1", "true", "yes")


def allowed_checkpoint(spec: str | None) -> str | None:
    """The checkpoint box's value, if this server may load it. Reachable from elsewhere (a Space, a
    lab server on 0.0.0.0: `reachable_from_elsewhere`), only registry entries and the Hub ids or
    owners in WECL_CHECKPOINTS_ALLOW (comma-separated, `owner/name` or `owner/`), with one message
    for anything else, so that the answer never tells which paths exist; on loopback anything.
    None is the registry default."""
    if spec is not None and not isinstance(spec, str):
        raise WECLError(f"checkpoint must be text (a registry name, a Hub id or a folder), not {type(spec).__name__}")
    spec = (spec or "").strip() or None
    if spec is None or not reachable_from_elsewhere() or checkpoints.registry_entry(spec) is not None:
        return spec
    repo = checkpoints.parse_spec(spec)[0] if len(spec) <= checkpoints.MAX_SPEC_LENGTH else ""
    allowed = list(settings().checkpoints_allow)
    # Only a Hub id can be allowed: `owner/../x` passes a prefix test but resolves as a local path.
    if is_repo_id(repo) and any(repo == a or (a.endswith("/") and repo.startswith(a)) for a in allowed):
        return spec
    names = ", ".join(c["name"] for c in checkpoints.registry()["checkpoints"])
    raise WECLError(f"checkpoint {spec[:80]!r}: this server loads only its own checkpoints ({names})"
                    + (f" and {', '.join(allowed)}" if allowed else ""))


def dataset_roots() -> list[Path]:
    """Folders the dataset tab may open (empty: any). WECL_DATASET_ROOTS (os.pathsep-separated)
    when set; else it fails closed: only the bundled assets/, unless the server listens on loopback
    alone (GRADIO_SERVER_NAME unset or 127.0.0.1, no share link) outside a Hugging Face Space."""
    explicit = [Path(p).expanduser().resolve() for p in settings().dataset_roots]
    if explicit:
        return explicit
    return [ASSETS] if reachable_from_elsewhere() else []


def allowed_dataset_folder(folder: str) -> str:
    """`folder`, resolved, if it lies under one of `dataset_roots()`; a relative folder is read from
    the app's own folder (the default, `assets/samples`), wherever the server was started."""
    resolved = (checkpoints.PROJECT_ROOT / Path(folder).expanduser()).resolve()
    roots = dataset_roots()
    if roots and not any(resolved.is_relative_to(root) for root in roots):
        allowed = ", ".join(shown_path(r) for r in roots)
        raise WECLError(f"{folder}: this server opens dataset folders only under {allowed} (set WECL_DATASET_ROOTS)")
    return str(resolved)


def served_files() -> list[str]:
    """The bundled example and sample files, one by one, as they are at start-up: a folder would
    also serve what appears in it later (`.bak` backups of a Save, the `.wecl/` results database)."""
    return [str(p) for folder in EXAMPLE_DIRS if folder.is_dir() for p in sorted(folder.iterdir())
            if p.is_file() and not p.name.startswith(".") and ".bak" not in p.suffixes]


def example_rows() -> list[list]:
    """[video, annotation file or None] for every bundled example video."""
    rows = []
    for folder in EXAMPLE_DIRS:
        if not folder.is_dir():
            continue
        annotation = dataset_run.find_annotation_file(folder)
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in VIDEO_EXTENSIONS:
                rows.append([str(path), [str(annotation)] if annotation else None])
    return rows


def checkpoint_choices() -> tuple[list[tuple[str, str]], str]:
    """(label, name) of every registry checkpoint, and the registry default's name."""
    reg = checkpoints.registry()
    choices = [(f"{c['name']} ({c.get('dataset') or 'unknown data'})", c["name"]) for c in reg["checkpoints"]]
    return choices, reg["default"]


def checkpoint_settings(spec: str | None) -> tuple[float, str] | None:
    """(theta, keyframe rule) in a registry checkpoint's config.json (local ones only: no download to
    show them), so the controls start at what the checkpoint was trained with."""
    entry = checkpoints.registry_entry(spec or checkpoints.registry()["default"])
    if entry and entry.get("path"):
        try:
            config = WECLConfig.load(checkpoints.PROJECT_ROOT / entry["path"] / "config.json")
        except Exception:  # a broken config shows up as an error on Run, not here
            return None
        return config.theta, config.keyframe_rule
    return None


# ---------------------------------------------------------------------------------------------
# What a visitor receives: no server path (temp folders, the checkout, the caches)


def _server_roots() -> list[str]:
    roots = {tempfile.gettempdir(), os.environ.get("GRADIO_TEMP_DIR", ""), str(checkpoints.PROJECT_ROOT),
             str(cache_root())}
    return sorted((str(Path(r).resolve()) for r in roots if r), key=len, reverse=True)


def public_message(text: str) -> str:
    """`text` with every path under a server folder cut to its last part (the file's own name):
    `/tmp/gradio/3f2a…/clip.mp4: …` becomes `clip.mp4: …`. Folder names there never hold spaces;
    the file name may."""
    for root in _server_roots():
        text = re.sub(re.escape(root) + r"/(?:[^/\s]*/)*", "", text)
    return text


def shown_path(path: str | Path) -> str:
    """A path as a visitor sees it: relative to the checkout when it lies there (the bundled
    `assets/samples`), cut to its name under any other server folder, else as it is (a folder the
    visitor named on a lab machine)."""
    resolved = Path(path).resolve()
    if resolved.is_relative_to(checkpoints.PROJECT_ROOT):
        return checkpoints.project_relative(resolved)
    return public_message(str(resolved))


def public_result(result: dict) -> dict:
    """A result JSON as a visitor receives it: the video by its file name, a checkpoint folder by
    its name (a Hub id stays as it is)."""
    checkpoint = dict(result["checkpoint"])
    if Path(checkpoint["id"]).is_absolute():
        checkpoint["id"] = Path(checkpoint["id"]).name
    return {**result, "video": {**result["video"], "path": Path(result["video"]["path"]).name}, "checkpoint": checkpoint}
