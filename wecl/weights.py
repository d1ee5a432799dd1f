"""A checkpoint's safetensors weights: read tensor by tensor (memory-mapped from the Hub cache),
listed (one file, or shards and their index), and identified: files' SHA-256, the weights'
fingerprint, and the backbones' digests that key the feature cache.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from wecl.errors import WECLError
from wecl.face import face_pipeline
from wecl.video import CLIP_SAMPLING

INDEX = "model.safetensors.index.json"  # the shards' index, beside model-*-of-*.safetensors
BACKBONES = (("visual_backbone", "v"), ("audio_backbone", "a"))  # (attribute, digest key) of the frozen backbones


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


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
