"""The pipeline of the official WECL/VAANet code, rebuilt for timing against ours on the same model.

Their data preparation is Hara et al.'s: `ffmpeg -vf scale=-1:240` writes every frame of the
video as a JPEG, clips are read back with PIL (scale the short side to 112, centre crop), the
sound goes through a WAV file into librosa's MFCC, and each erasing round runs the backbones again
on the video made of the segments left (paper 3.3). Nothing is cached between runs: a new theta
means loading the JPEGs and running the backbones again. The model, its weights, T, k and the
MFCC settings are ours, so the two pipelines differ only in how they get from the file to the
heads.
"""
from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def extract_jpegs(video: Path, folder: Path) -> None:
    """Hara et al.'s `video_jpg.py`: every frame, short side 240, as image_00001.jpg ..."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(video), "-vf", "scale=-1:240",
                    str(folder / "image_%05d.jpg")], check=True)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(video), "-ac", "1", "-ar", "16000",
                    str(folder / "audio.wav")], check=True)


def load_clips(folder: Path, segments: int, k: int, size: int) -> torch.Tensor:
    """T clips of k consecutive frames, centred in equal segments, PIL-loaded: (T, 3, k, size, size)."""
    from PIL import Image

    n = len(list(folder.glob("image_*.jpg")))
    clips = []
    for i in range(segments):
        middle = int((i + 0.5) * n / segments)
        frames = []
        for j in range(max(0, middle - k // 2), max(0, middle - k // 2) + k):
            image = Image.open(folder / f"image_{min(j, n - 1) + 1:05d}.jpg").convert("RGB")
            w, h = image.size
            scale = size / min(w, h)
            image = image.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BILINEAR)
            w, h = image.size
            left, top = (w - size) // 2, (h - size) // 2
            frames.append(np.asarray(image.crop((left, top, left + size, top + size)), np.float32))
        clips.append(np.stack(frames))
    return torch.from_numpy(np.stack(clips)).permute(0, 4, 1, 2, 3)  # (T, 3, k, H, W)


def mfcc_patches(folder: Path, segments: int, config) -> torch.Tensor:
    """librosa MFCC of the WAV, cut into T patches, each resized to the patch size, 3 channels."""
    import librosa

    waveform, rate = librosa.load(folder / "audio.wav", sr=config.sample_rate)
    mfcc = librosa.feature.mfcc(y=waveform, sr=rate, n_mfcc=config.n_mfcc, hop_length=config.mfcc_hop)
    bounds = np.linspace(0, mfcc.shape[1], segments + 1).astype(int)
    patches = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        patch = torch.from_numpy(mfcc[:, a:max(b, a + 1)]).float()[None, None]
        patches.append(F.interpolate(patch, size=(config.audio_patch_size,) * 2, mode="bilinear")[0])
    return torch.cat(patches)[:, None].repeat(1, 3, 1, 1)


def backbones(model, clips: torch.Tensor, patches: torch.Tensor):
    c, device = model.config, next(model.parameters()).device
    mean, std = torch.tensor(c.pixel_mean).view(1, 3, 1, 1, 1), torch.tensor(c.pixel_std).view(1, 3, 1, 1, 1)
    with torch.inference_mode():
        visual = torch.cat([model.visual_backbone(((part - mean) / std).to(device)) for part in clips.split(5)])
        audio = torch.cat([model.audio_backbone(part.to(device)) for part in patches.split(5)])
    return visual[None], audio[None]


def predict(folder: Path, model, theta: float, rounds: int = 2) -> dict:
    """Heads on the full video, then each erasing round re-runs the backbones on the segments left."""
    from wecl.erasing import resample_indices

    c = model.config
    clips, patches = load_clips(folder, c.segments, c.frames_per_segment, c.frame_size), mfcc_patches(folder, c.segments, c)
    keep = torch.ones(c.segments, dtype=torch.bool)
    probabilities = None
    for _ in range(rounds):
        index = resample_indices(keep)
        visual, audio = backbones(model, clips[index], patches[index])
        with torch.inference_mode():
            out = model(visual, audio)
            erased = model.erase_mask(out, theta)[0].cpu()
        probabilities = probabilities if probabilities is not None else out.logits.softmax(-1)[0]
        left = keep.clone()
        left[index[erased]] = False
        if not left.any() or left.equal(keep):
            break
        keep = left
    return {"probabilities": probabilities.tolist()}


def timed_run(video: Path, model, theta: float, rounds: int = 2) -> tuple[float, float]:
    """(first prediction from the file, a theta change) in seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        extract_jpegs(video, Path(tmp))
        predict(Path(tmp), model, theta, rounds)
        first = time.perf_counter() - start
        start = time.perf_counter()
        predict(Path(tmp), model, min(1.0, theta + 0.1), rounds)
        return first, time.perf_counter() - start
