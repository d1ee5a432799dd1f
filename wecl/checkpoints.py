"""Checkpoints (docs/formats.md#checkpoint-folder): `config.json` + `model.safetensors` + `README.md` model card,
from a local folder, a Hub repo id (`owner/name` or `owner/name@revision`) or the local Hub cache.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Self, TypeVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from wecl.atomic import atomic_write
from wecl.config import WECLConfig
from wecl.errors import WECLError
from wecl.face import face_pipeline
from wecl.settings import settings
from wecl.video import CLIP_SAMPLING


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
INDEX = "model.safetensors.index.json"
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
    return _download(spec, revision)


def _download(repo_id: str, revision: str | None) -> tuple[Path, str, str | None]:
    from huggingface_hub import errors as hf
    from huggingface_hub import snapshot_download

    where = f"{repo_id}@{revision}" if revision else repo_id
    try:
        folder = Path(snapshot_download(repo_id, revision=revision, allow_patterns=list(HUB_PATTERNS)))
    except hf.HFValidationError:
        raise WECLError(f"checkpoint {where!r} is neither a folder nor a valid Hub repo id") from None
    except hf.RevisionNotFoundError:
        raise WECLError(f"checkpoint {where!r}: the Hub repo has no revision {revision!r}") from None
    except hf.GatedRepoError:
        raise WECLError(f"checkpoint {where!r} is a gated Hub repo: accept its conditions on its Hub page, then "
                        "log in (`hf auth login` or HF_TOKEN) with that account") from None
    except hf.RepositoryNotFoundError:
        raise WECLError(f"checkpoint {where!r}: no such Hub repo (or it is private: log in with an account "
                        "that may read it)") from None
    except (hf.LocalEntryNotFoundError, hf.OfflineModeIsEnabled):
        raise WECLError(
            f"checkpoint {where!r}: not in the local Hub cache and the Hub cannot be reached "
            "(offline or no network); download it once online or pass a local folder"
        ) from None
    except Exception as error:  # network stacks raise many types; the user needs one message
        raise WECLError(f"checkpoint {where!r}: download from the Hub failed ({type(error).__name__}: {error})") from None
    # snapshot folders are named after the commit they hold
    return folder, repo_id, folder.name


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


M = TypeVar("M", bound=torch.nn.Module)

class Pretrained:
    """`from_pretrained` and `save_pretrained`, as in Hugging Face's libraries, for a model class
    built from a `WECLConfig` (`wecl.model.WECL` inherits them)."""

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


# Frozen backbones by (weights digest, device): models whose backbones are identical tensors share
# one module (`load_resolved(..., share_backbones=True)`); freed with the last model that uses it.
_shared_backbones: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_shared_lock = threading.Lock()
BACKBONES = (("visual_backbone", "v"), ("audio_backbone", "a"))


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


SAFETENSORS_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
                      "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
                      "U8": torch.uint8, "BOOL": torch.bool}


def immutable(path: Path) -> bool:
    """Whether a file is a Hub cache blob (`snapshots/<commit>/f` -> `blobs/<hash>`): written once
    under its content's name and never changed in place."""
    target = path.resolve()
    return target.parent.name == "blobs" and (target.parent.parent / "snapshots").is_dir()


class StoredWeights:
    """A checkpoint's safetensors files, read tensor by tensor straight into the model's memory.

    Files of the Hub cache are memory-mapped instead: a tensor stored in the model's dtype is then
    the mapped tensor itself (no copy, paged in when first used, shared between processes). Other
    files are read, because a mapped file that is overwritten in place (`cp new old`) would crash
    the process at its next forward pass. A tensor stored in another precision (bf16/fp16
    backbones) is read and cast. Hashing reads the file, never the mapping, so a backbone that
    turns out to be shared is never paged in twice."""

    CHUNK = 8 << 20

    def __init__(self, paths: list[Path], ident: str):
        self.places: dict[str, tuple[Path, int, int, torch.dtype, tuple]] = {}  # key -> file, start, end, dtype, shape
        self.mapped: dict[str, torch.Tensor] = {}
        for path in paths:
            try:
                self._read_header(path)
                if immutable(path):
                    self.mapped.update(load_file(str(path)))
            except (SafetensorError, OSError, RuntimeError, ValueError, KeyError, TypeError) as error:
                raise WECLError(f"checkpoint {ident}: cannot read {path.name} ({error})") from None

    def _read_header(self, path: Path) -> None:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            length = int.from_bytes(handle.read(8), "little")
            if not 2 <= length <= min(size - 8, 100 << 20):
                raise ValueError("not a safetensors file: bad header length")
            header = json.loads(handle.read(length))
        if not isinstance(header, dict):
            raise ValueError("not a safetensors file: the header is no JSON object")
        data = size - 8 - length
        for key, entry in header.items():
            if key == "__metadata__":
                continue
            dtype, shape, (start, end) = SAFETENSORS_DTYPES[entry["dtype"]], tuple(entry["shape"]), entry["data_offsets"]
            count = 1
            for n in shape:
                if not isinstance(n, int) or n < 0:
                    raise ValueError(f"{key}: bad shape {shape}")
                count *= n
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= data
                    and end - start == count * dtype.itemsize):
                raise ValueError(f"{key}: its bytes do not fit its shape and the file")
            self.places[key] = (path, 8 + length + start, 8 + length + end, dtype, shape)

    def shapes(self) -> dict[str, tuple]:
        return {k: place[4] for k, place in self.places.items()}

    def tensor(self, key: str, dtype: torch.dtype) -> torch.Tensor:
        """The tensor as the model holds it: mapped when possible, else read (and cast)."""
        path, start, end, stored, shape = self.places[key]
        if key in self.mapped and stored == dtype:
            return self.mapped[key]
        buffer = bytearray(end - start)
        with open(path, "rb") as handle:
            handle.seek(start)
            if handle.readinto(buffer) != len(buffer):
                raise WECLError(f"{path.name}: the file ends inside {key}")
        value = torch.frombuffer(buffer, dtype=stored) if buffer else torch.empty(0, dtype=stored)
        return value.reshape(shape).to(dtype)

    def hasher(self, dtypes: dict[str, torch.dtype]):
        """`update(digests, key)`: feed the bytes of the tensor `key` as the model will hold it
        (in `dtypes[key]`) to each digest, reading the file block by block when no cast is needed."""
        def update(digests, key: str) -> None:
            path, start, end, stored, _ = self.places[key]
            if stored != dtypes[key]:
                data = self.tensor(key, dtypes[key]).contiguous().view(-1).view(torch.uint8).numpy()
                for digest in digests:
                    digest.update(data)
                return
            with open(path, "rb") as handle:
                handle.seek(start)
                while start < end:
                    block = handle.read(min(self.CHUNK, end - start))
                    if not block:
                        raise WECLError(f"{path.name}: the file ends inside {key}")
                    start += len(block)
                    for digest in digests:
                        digest.update(block)
        return update


def backbone_digests(model, update=None) -> tuple[dict[str, str], str]:
    """sha256 of each backbone's tensors, and the feature-cache key: the input pipeline's config and
    both backbones' tensors (`WECL.backbone_key`). `update(digests, key)` feeds a tensor's
    bytes (see `StoredWeights.hasher`); by default they are read from the model itself. The
    figures are the same either way."""
    c = model.config
    key = hashlib.sha256(json.dumps([
        c.modalities, c.visual_depth, c.visual_width, c.audio_depth, c.audio_width, c.segments,
        c.frames_per_segment, c.frame_size, c.pixel_mean, c.pixel_std, c.sample_rate, c.n_mfcc,
        c.mfcc_hop, c.audio_patch_size, c.audio_channels]
        # the face backbone's pipeline differs in more than tensors (its detector, its sampling);
        # the 3D ResNet's clips are k successive frames by their timestamps (`video.CLIP_SAMPLING`)
        + ([c.visual_backbone, face_pipeline()] if c.face else [CLIP_SAMPLING])).encode())
    digests = {}
    for name, short in BACKBONES:
        backbone = getattr(model, name)
        if backbone is None:
            continue
        own = hashlib.sha256(name.encode())
        for key_name, tensor in backbone.state_dict().items():
            own.update(f"{tuple(tensor.shape)} {tensor.dtype}".encode())
            for digest in (key, own):
                digest.update(f"{short}.{key_name}".encode())
            if update is not None:
                update((key, own), f"{name}.{key_name}")
            else:
                data = tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy()
                key.update(data)
                own.update(data)
        digests[name] = own.hexdigest()
    return digests, key.hexdigest()


def weight_files(folder: Path, ident: str | None = None) -> list[Path]:
    """A checkpoint's weight files: the shards its index names, in order, or model.safetensors."""
    ident = ident or str(folder)
    index = folder / INDEX
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
            names = sorted(set(weight_map.values()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise WECLError(f"checkpoint {ident}: {INDEX} is not a safetensors index ({error})") from None
        shards = []
        for name in names:
            if Path(name).name != name or not (folder / name).is_file():  # no path out of the folder
                raise WECLError(f"checkpoint {ident}: the shard {name!r} named by {INDEX} is missing")
            shards.append(folder / name)
        return shards
    if not (folder / "model.safetensors").is_file():
        raise WECLError(f"checkpoint {ident}: model.safetensors is missing")
    return [folder / "model.safetensors"]


def weights_stamp(folder: Path) -> tuple[int, int]:
    """(size, mtime) of the file every save replaces last (the index, or model.safetensors)."""
    path = folder / INDEX if (folder / INDEX).is_file() else folder / "model.safetensors"
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def weights_fingerprint(files: list[Path]) -> str:
    """sha256 of model.safetensors; for shards, sha256 of their sha256s in order."""
    if len(files) == 1:
        return file_sha256(files[0])
    return hashlib.sha256("".join(file_sha256(p) for p in files).encode()).hexdigest()


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


CITATION = """@inproceedings{zhang2023wecl,
  title     = {Weakly Supervised Video Emotion Detection and Prediction via Cross-Modal Temporal Erasing Network},
  author    = {Zhang, Zhicheng and Wang, Lijuan and Yang, Jufeng},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2023}
}"""


TRAINING_NOTES = {
    "untrained": "**This checkpoint is untrained**: its weights are random. Its predictions and "
    "attention mean nothing; it exists so that the pipeline runs end to end.",
    "synthetic": "**Trained only on synthetic videos** (coloured cues and tones, see "
    "`python -m wecl synth`). It knows nothing about real emotions.",
    "real": "",
    "rule": "**Not the paper's trained WECL: its heads are set by a rule, not trained.** A FER2013 "
    "face-expression network reads the faces; a segment's attention is how far its face is from neutral, "
    "and the emotion is the face's expression, not what the person feels.",
}


def training_notice(config: WECLConfig) -> str | None:
    """The one-line warning every output shows for untrained or synthetic-only checkpoints."""
    note = TRAINING_NOTES.get(config.training, "")
    return note.replace("**", "") or None


def is_paper_model(config: WECLConfig) -> bool:
    """All of Table 2's modules on: both modalities, intra, inter and erasing."""
    return config.modalities == "both" and config.intra and config.inter and config.erasing


def switches_markdown(config: WECLConfig) -> str:
    """The Table 2 switches, theta and the keyframe rule as a table, and whether that is the paper's model."""
    on = lambda x: "on" if x else "**off**"  # noqa: E731
    rows = [("modalities", config.modalities if config.modalities == "both" else f"**{config.modalities}**"),
            ("intra-modal relation (eq. 1-4)", on(config.intra)), ("inter-modal relation (eq. 5-6)", on(config.inter)),
            ("temporal erasing (eq. 9, 12)", on(config.erasing)),
            ("theta", f"{config.theta:g}" if config.theta == 0.7 else f"**{config.theta:g}** (paper: 0.7)"),
            ("keyframes", config.keyframe_rule if config.keyframe_rule == "eq9" else f"**{config.keyframe_rule}** (paper: eq9)")]
    as_written = config.theta == 0.7 and config.keyframe_rule == "eq9"
    if not is_paper_model(config):
        verdict = "This is **not** the paper's full model: the settings in bold differ from it."
    elif as_written:
        verdict = "This is the paper's full model, with the paper's theta and eq. 9."
    else:
        verdict = ("This is the paper's full model (every Table 2 module on); the settings in bold are where it "
                   "departs from the paper's text (docs/ablation.md says why).")
    return "| switch | setting |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows) + "\n\n" + verdict


def model_card(config: WECLConfig, metrics: dict | None = None, data: str | None = None,
               training: str | None = None, metrics_note: str | None = None) -> str:
    """A Hub model card: front matter, what the checkpoint is, its training status and config;
    `data`, `training` and `metrics` (with a `metrics_note` above their table) when known."""
    lines = [
        "---",
        "library_name: wecl",
        "pipeline_tag: video-classification",
        "tags: [video-emotion, wecl, temporal-erasing, audio-visual]",
        "---",
        "",
        f"# WECL checkpoint: {', '.join(config.classes)}",
        "",
        "The cross-modal temporal erasing network of Zhang et al., CVPR 2023 (\"Weakly Supervised "
        "Video Emotion Detection and Prediction via Cross-Modal Temporal Erasing Network\"), in the "
        "format of the WECL Explorer project.",
        "",
    ]
    if config.description:
        lines += [config.description, ""]
    if TRAINING_NOTES.get(config.training):
        lines += [TRAINING_NOTES[config.training], ""]
    lines += ["## Switches (paper Table 2)", "", switches_markdown(config), ""]
    if data:
        lines += ["## Training data", "", data, ""]
    if training:
        lines += ["## Training", "", training, ""]
    if metrics:
        lines += ["## Metrics", ""] + ([metrics_note, ""] if metrics_note else []) + ["| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in metrics.items()]
        lines += [""]
    lines += [
        "## Use",
        "",
        "```",
        "python -m wecl predict video.mp4 --checkpoint <this repo or folder>",
        "```",
        "",
        "## Config",
        "",
        "```json",
        json.dumps(config.to_dict(), indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)


def published_card(folder: Path, config: WECLConfig) -> str:
    """The folder's model card ready for the Hub: with front matter and the WECL citation."""
    card = folder / "README.md"
    text = card.read_text(encoding="utf-8") if card.is_file() else model_card(config)
    if not text.startswith("---\n"):
        front = model_card(config).split("\n---\n", 1)[0] + "\n---\n\n"
        text = front + text
    if "## Citation" not in text:
        text = text.rstrip("\n") + "\n\n## Citation\n\n```bibtex\n" + CITATION + "\n```\n"
    return text
