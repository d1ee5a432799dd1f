"""Checkpoints (docs/formats.md#checkpoint-folder): `config.json` + `model.safetensors` + `README.md` model card,
from a local folder, a Hub repo id (`owner/name` or `owner/name@revision`) or the local Hub cache.
"""
from __future__ import annotations

import json
import os
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Self, TypeVar

import torch
from safetensors.torch import save_file

from wecl.atomic import atomic_write
from wecl.cards import model_card
from wecl.config import WECLConfig
from wecl.errors import WECLError
from wecl.settings import settings
from wecl.weights import BACKBONES, INDEX, StoredWeights, backbone_digests, weight_files, weights_fingerprint


def _project_root() -> Path:
    """Where `checkpoints/registry.json` and the bundled checkpoints are: the checkout the package
    is in, or, for a package installed with `pip install .`, the working directory when it holds them."""
    checkout = Path(__file__).resolve().parent.parent
    if not (checkout / "checkpoints" / "registry.json").exists() and (Path.cwd() / "checkpoints" / "registry.json").exists():
        return Path.cwd().resolve()
    return checkout


PROJECT_ROOT = _project_root()


def project_relative(path: str | Path) -> str:
    """A path relative to the checkout when it lies there (a bundled checkpoint or sample), else as
    it is: what files that are published or shown carry instead of this machine's folders."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(PROJECT_ROOT)) if resolved.is_relative_to(PROJECT_ROOT) else str(path)
CHECKPOINTS_DIR = PROJECT_ROOT / "checkpoints"
REGISTRY = CHECKPOINTS_DIR / "registry.json"
FILES = ("config.json", "model.safetensors", "README.md")
# Weights over the shard size are stored the Hub's way: model-00001-of-0000N.safetensors + an index
# (a Space's git refuses files over 10 MiB that LFS does not track; WECL_MAX_SHARD_MB, default 1024).
HUB_PATTERNS = (*FILES, INDEX, "model-*-of-*.safetensors")
MAX_SPEC_LENGTH = 1024


@dataclass(frozen=True)
class CheckpointRef:
    id: str  # Hub repo id or the folder's path
    revision: str | None  # the Hub commit it resolved to; None for a local folder
    path: Path  # the local folder that holds the files
    fingerprint: str  # sha256 of the weights (of model.safetensors, or of its shards' hashes)

    def to_json(self) -> dict:
        return {"id": self.id, "revision": self.revision, "fingerprint": self.fingerprint}


def parse_spec(spec: str, revision: str | None = None) -> tuple[str, str | None]:
    """`owner/name@rev` -> (`owner/name`, `rev`); an explicit `revision` wins."""
    spec = spec.strip()
    if "@" in spec and not path_exists(spec):
        spec, _, at = spec.partition("@")
        revision = revision or at or None
    return spec, revision


def path_exists(path: str) -> bool:
    """Whether a path exists; a name the file system refuses (too long, a loop of links) does not."""
    try:
        return Path(path).exists()
    except OSError:  # a name too long for the file system, a loop of links: no such folder
        return False


def registry() -> dict:
    """The checkpoints registry (`checkpoints/registry.json`): the default and named checkpoints."""
    try:
        return json.loads(REGISTRY.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise WECLError(f"cannot read the checkpoint registry {REGISTRY}: {error}") from None


def default_checkpoint() -> str:
    """The folder of the project's default checkpoint (the registry's `default` entry)."""
    reg = registry()
    entry = next((c for c in reg["checkpoints"] if c["name"] == reg["default"]), None)
    if entry is None:
        raise WECLError(f"{REGISTRY}: default {reg['default']!r} is not among its checkpoints")
    return str(PROJECT_ROOT / entry["path"]) if entry.get("path") else entry["repo_id"]


def registry_entry(name: str) -> dict | None:
    return next((c for c in registry()["checkpoints"] if c["name"] == name), None)


def resolve(spec: str | os.PathLike | None, revision: str | None = None) -> tuple[Path, str, str | None]:
    """Find a checkpoint's files: -> (local folder, id, resolved revision). None is the default."""
    if spec is None or str(spec).strip() == "":
        default_checkpoint()  # says so when the default names no entry
        spec = registry()["default"]  # by name: a Hub entry keeps its pinned revision
    if len(str(spec)) > MAX_SPEC_LENGTH or (revision and len(revision) > MAX_SPEC_LENGTH):
        raise WECLError(f"checkpoint {str(spec)[:60]!r}…: a name of {len(str(spec))} characters is no "
                        "checkpoint (a Hub id or a folder path is shorter)")
    entry = registry_entry(str(spec))
    if entry is not None:
        if not (entry.get("path") or entry.get("repo_id")):
            raise WECLError(f"{REGISTRY}: the entry {entry.get('name')!r} has neither a path nor a repo_id")
        spec = str(PROJECT_ROOT / entry["path"]) if entry.get("path") else entry["repo_id"]
        revision = revision or entry.get("revision")
    spec, revision = parse_spec(str(spec), revision)
    path = Path(spec).expanduser()
    try:
        if path.is_dir():
            return path.resolve(), str(path.resolve()), None
        exists = path.exists()
    except OSError as error:  # a component too long, a loop of links, no permission
        raise WECLError(f"checkpoint {spec[:80]!r}: cannot open it ({error.strerror})") from None
    if exists or spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise WECLError(f"checkpoint {spec!r}: no such folder")
    from wecl.hub import download  # the Hub's code imports models, which import this module

    return download(spec, revision)


M = TypeVar("M", bound=torch.nn.Module)

class Pretrained:
    """`from_pretrained`, `save_pretrained` and `push_to_hub`, as huggingface_hub's
    `PyTorchModelHubMixin`, for a model class built from a `WECLConfig` (`wecl.model.WECL` inherits them)."""

    @classmethod
    def from_pretrained(cls, spec: str | os.PathLike | None = None, revision: str | None = None,
                        device: str | torch.device = "cpu") -> Self:
        """Load from a Hub repo id (`owner/name[@revision]`), a local folder or the offline cache;
        None is the project's default checkpoint. The model comes in eval mode on `device`, with
        its `CheckpointRef` as `.checkpoint`."""
        return load_resolved(cls, *resolve(spec, revision), device=device)

    def save_pretrained(self, folder: str | os.PathLike, card: str | None = None, **options) -> Path:
        """Write `config.json`, the weights (`model.safetensors`, or shards + index) and a model
        card; `options` are `save`'s (`max_shard_bytes`, `backbone_dtype`)."""
        return save(self, folder, card, **options)

    def push_to_hub(self, repo_id: str, revision: str | None = None, tag: str | None = None, private: bool = False,
                    token: str | None = None, card: str | None = None, **options):
        """Publish this model as a Hub model repo in one commit (`save_pretrained` into a temporary
        folder, then `wecl.hub.push_checkpoint`); -> `wecl.hub.Published` (repo, commit, branch, tag)."""
        import tempfile

        from wecl.hub import push_checkpoint  # the Hub's code imports models, which import this module

        with tempfile.TemporaryDirectory(prefix="wecl-push-") as folder:
            self.save_pretrained(folder, card, **options)
            return push_checkpoint(folder, repo_id, revision=revision, tag=tag, private=private, token=token)


# Frozen backbones by (weights digest, device): models whose backbones are identical tensors share
# one module (`load_resolved(..., share_backbones=True)`); freed with the last model that uses it.
_shared_backbones: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_shared_lock = threading.Lock()


def load_resolved(model_class: type[M], folder: Path, ident: str, resolved: str | None,
                  device: str | torch.device = "cpu", share_backbones: bool = False) -> M:
    """`from_pretrained` on what `resolve` found: (local folder, id, resolved revision).

    The weights become the model's tensors without a random initialisation or a second copy (see
    `StoredWeights`: read, or memory-mapped for Hub cache files). With `share_backbones`, a
    backbone whose tensors equal those of a backbone already loaded on the same device is that
    module: it must then never be changed or moved (the model cache's models are not). Only then
    are the backbones hashed while loading (twice sha256 over their bytes: 0.75 s for the paper's)."""
    if not (folder / "config.json").is_file():
        raise WECLError(f"checkpoint {ident}: config.json is missing")
    weights = weight_files(folder, ident)
    config = WECLConfig.load(folder / "config.json")
    device = torch.device(device)
    # Shapes first, memory after: the model is built on the meta device (no storage) and the file's
    # shapes come from its header, so a config asking for huge backbones over junk weights is
    # refused before a byte is allocated.
    try:
        with torch.device("meta"):
            model = model_class(config)
    except ValueError as error:
        raise WECLError(f"checkpoint {ident}: config.json describes no valid model ({error})") from None
    expected = model.state_dict()
    stored = StoredWeights(weights, ident)
    mismatch = _mismatch({k: tuple(v.shape) for k, v in expected.items()}, stored.shapes())
    if mismatch:
        raise WECLError(f"checkpoint {ident}: config.json does not match its weights: {mismatch}")
    dtypes = {k: v.dtype for k, v in expected.items()}
    digests = {}  # backbone name -> digest, for sharing only (`backbone_key` is otherwise hashed when first asked for)
    if share_backbones:
        digests, model._backbone_key = backbone_digests(model, stored.hasher(dtypes))
    with _shared_lock:
        skip = set()
        for name, digest in digests.items():
            shared = _shared_backbones.get((digest, str(device)))
            if shared is not None:
                setattr(model, name, shared)
                skip |= {k for k in expected if k.startswith(name + ".")}
        model.load_state_dict({k: stored.tensor(k, dtypes[k]) for k in expected if k not in skip},
                              strict=False, assign=True)
        left = [k for k, v in model.state_dict().items() if v.is_meta]
        if left:  # the header check makes this unreachable; never hand out a model with holes
            raise WECLError(f"checkpoint {ident}: no weights for {', '.join(left[:3])}")
        model.to(device)
        for name, digest in digests.items():
            _shared_backbones.setdefault((digest, str(device)), getattr(model, name))
    model.eval()
    model.checkpoint = CheckpointRef(ident, resolved, folder, weights_fingerprint(weights))
    return model


def _mismatch(expected: dict[str, tuple], got: dict[str, tuple], shown: int = 3) -> str:
    """What differs between two {key: shape} maps, in a sentence (empty when nothing does)."""
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    shapes = [k for k in expected if k in got and expected[k] != got[k]]
    parts = []
    for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("shape differs for", shapes)):
        if keys:
            more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
            parts.append(f"{label} {', '.join(keys[:shown])}{more}")
    return "; ".join(parts)


BACKBONE_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def save(model, folder: str | os.PathLike, card: str | None = None, max_shard_bytes: int | None = None,
         backbone_dtype: str = "fp32") -> Path:
    """Write config.json, the weights and the model card; each file replaced atomically. Weights
    over `max_shard_bytes` (default WECL_MAX_SHARD_MB) go to shards with an index. The frozen
    backbones can be stored in "bf16" or "fp16" (half the bytes; loaded back as float32)."""
    if backbone_dtype not in BACKBONE_DTYPES:
        raise WECLError(f"backbone dtype must be one of {', '.join(BACKBONE_DTYPES)}, not {backbone_dtype!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    max_shard_bytes = max_shard_bytes or int(settings().max_shard_mb * 2**20)
    cast = BACKBONE_DTYPES[backbone_dtype]
    state = {}
    for key, value in model.state_dict().items():
        value = value.detach().cpu()
        if cast is not None and key.startswith(tuple(f"{name}." for name, _ in BACKBONES)) and value.is_floating_point():
            value = value.to(cast)
        state[key] = value.contiguous()
    _save_weights(state, folder, max_shard_bytes)
    atomic_write(folder / "config.json", lambda p: model.config.save(p))
    text = card if card is not None else model_card(model.config)
    if cast is not None:
        text += f"\nThe frozen backbones are stored in {backbone_dtype} and loaded as float32.\n"
    atomic_write(folder / "README.md", lambda p: Path(p).write_text(text))
    return folder


def _save_weights(state: dict[str, torch.Tensor], folder: Path, max_shard_bytes: int) -> None:
    """One model.safetensors, or shards + index; the other layout's files are removed afterwards
    (a reader in between prefers the index, whose shards are then still whole)."""
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for key in sorted(state):
        nbytes = state[key].numel() * state[key].element_size()
        if shards[-1] and size + nbytes > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][key] = state[key]
        size += nbytes
    old = [folder / "model.safetensors", *folder.glob("model-*-of-*.safetensors")]
    if len(shards) == 1:
        atomic_write(folder / "model.safetensors", lambda p: save_file(state, str(p), metadata={"format": "pt"}))
        (folder / INDEX).unlink(missing_ok=True)
        written = {folder / "model.safetensors"}
    else:
        names = [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
        for name, shard in zip(names, shards):
            atomic_write(folder / name, lambda p, shard=shard: save_file(shard, str(p), metadata={"format": "pt"}))
        index = {"metadata": {"total_size": sum(t.numel() * t.element_size() for t in state.values())},
                 "weight_map": {key: name for name, shard in zip(names, shards) for key in shard}}
        atomic_write(folder / INDEX, lambda p: Path(p).write_text(json.dumps(index, indent=2) + "\n"))
        written = {folder / name for name in names}
    for path in old:
        if path not in written:
            path.unlink(missing_ok=True)


