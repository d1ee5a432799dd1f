"""Audio input (docs/design.md#2-input-sampling): any stream -> mono waveform -> MFCC over the whole track ->
one patch per segment time span, resized to 224x224 and repeated to 3 channels.

The MFCC is librosa's (`librosa.feature.mfcc` with its defaults: Slaney mel filters, power to dB
with top_db=80, orthonormal DCT-II), computed here with numpy: librosa's first call in a process
costs over a second of numba start-up, more than the whole audio stage. `tests/test_audio.py`
checks that both agree.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import av
import numpy as np
import scipy.fft
import torch
import torch.nn.functional as F

from wecl.errors import WECLError
from wecl.threads import Deadline
from wecl.video import PacketCount

N_FFT = 512
N_MELS = 128


def read_audio(path: str, sample_rate: int, max_seconds: float | None = None,
               deadline: Deadline | None = None) -> np.ndarray | None:
    """Decode the first audio stream to mono float32 at `sample_rate`; None when there is none.

    With `max_seconds` (the video's duration) decoding stops there: an audio track far longer than
    the picture (1 s of video over 1 h of sound) costs no more than the picture's length of it."""
    limit = None if max_seconds is None else int(np.ceil(max_seconds * sample_rate))
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            # With a limit the samples go straight into their place (pages are taken as they are
            # written): an hour of sound is 230 MB, and chunks + their concatenation twice that.
            buffer = None if limit is None else np.empty(limit, np.float32)
            chunks, total = [], 0

            def keep(out) -> None:
                nonlocal total
                samples = out.to_ndarray().reshape(-1)
                if buffer is None:
                    chunks.append(samples)
                elif total < limit:
                    buffer[total:total + samples.size] = samples[:limit - total]
                total += samples.size

            for frame in PacketCount(str(path)).frames(container, stream):
                if deadline is not None:
                    deadline.check(str(path))
                for out in resampler.resample(frame):
                    keep(out)
                if limit is not None and total >= limit:
                    break
            else:
                for out in resampler.resample(None):
                    keep(out)
    except av.FFmpegError as error:
        raise WECLError(f"{path}: cannot decode its audio ({error})") from None
    if buffer is not None:
        return buffer[:min(total, limit)]
    return np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros(0, np.float32)


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    # Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa's htk=False).
    f = np.asarray(f, dtype=np.float64)
    mel = f / (200.0 / 3)
    log = f >= 1000.0
    return np.where(log, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), mel)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3))


@lru_cache(maxsize=8)
def mel_filters(sample_rate: int, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """librosa.filters.mel(sr, n_fft, n_mels) with norm='slaney': (n_mels, 1 + n_fft // 2)."""
    fft_freqs = np.linspace(0, sample_rate / 2, 1 + n_fft // 2)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sample_rate / 2), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
    return weights.astype(np.float32)


MFCC_BLOCK = 8192  # STFT frames at a time: 16 MB of windowed samples, whatever the track's length


def mfcc(waveform: np.ndarray, sample_rate: int, n_mfcc: int, hop: int) -> np.ndarray:
    """(n_mfcc, frames) with frames = 1 + len // hop, as librosa.feature.mfcc(center=True).

    The spectrum is computed MFCC_BLOCK frames at a time and only its mel bands are kept: the
    whole spectrum of an hour of sound would take 3 GB at the default hop, the bands take 184 MB.
    Each frame's figures are the same either way (the block is a row range of one computation)."""
    y = np.pad(waveform.astype(np.float32, copy=False), N_FFT // 2)  # librosa's center=True, pad_mode="constant"
    if y.size < N_FFT:
        y = np.pad(y, (0, N_FFT - y.size))
    frames = np.lib.stride_tricks.sliding_window_view(y, N_FFT)[::hop]  # a view: no copy
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic Hann
    filters = mel_filters(sample_rate)
    mel = np.empty((filters.shape[0], len(frames)), np.float32)
    for start in range(0, len(frames), MFCC_BLOCK):
        block = frames[start:start + MFCC_BLOCK]
        power = np.abs(np.fft.rfft(block * window, axis=-1)) ** 2  # (frames, 1 + n_fft // 2)
        # einsum, not BLAS: OpenBLAS's result depends on its thread count, which follows the CPU affinity.
        mel[:, start:start + len(block)] = np.einsum("mf,tf->mt", filters, power.astype(np.float32), optimize=False)
    del frames, y
    db = mel  # 10 log10(max(mel, 1e-10)), floored 80 dB below its peak: in place, as are the blocks below
    np.log10(np.maximum(mel, 1e-10, out=mel), out=db)
    db *= 10.0
    np.maximum(db, db.max() - 80.0, out=db)
    out = np.empty((n_mfcc, db.shape[1]), np.float32)
    for start in range(0, db.shape[1], MFCC_BLOCK):
        out[:, start:start + MFCC_BLOCK] = scipy.fft.dct(db[:, start:start + MFCC_BLOCK], axis=0, type=2,
                                                         norm="ortho")[:n_mfcc]
    return out


def mfcc_patches(
    waveform: np.ndarray | None,
    sample_rate: int,
    spans: list[tuple[float, float]],
    n_mfcc: int,
    hop: int,
    size: int = 224,
) -> torch.Tensor:
    """The audio backbone's input: (T, 3, size, size), one MFCC patch per time span.

    The MFCC is standardised over the whole track (so a quiet passage stays quiet relative to the
    rest), then each span's columns are resized to size x size. No audio gives all zeros.
    """
    t = len(spans)
    if waveform is None or waveform.size == 0:
        return torch.zeros(t, 3, size, size)
    coeffs = mfcc(waveform, sample_rate, n_mfcc, hop)
    coeffs = (coeffs - coeffs.mean()) / max(float(coeffs.std()), 1e-6)
    columns = coeffs.shape[1]
    patches = []
    for start, end in spans:
        a = min(int(start * sample_rate / hop), columns - 1)
        b = min(max(int(np.ceil(end * sample_rate / hop)), a + 1), columns)
        patch = torch.from_numpy(np.ascontiguousarray(coeffs[:, a:b]))[None, None]
        patches.append(F.interpolate(patch, size=(size, size), mode="bilinear", align_corners=False)[0])
    return torch.cat(patches).unsqueeze(1).expand(-1, 3, -1, -1).contiguous()


# ---------------------------------------------------------------------------------------------
# The sound, seen: a small log-mel picture of the whole track for the timeline


SOUND_COLUMNS = 480  # at most this many time columns, whatever the video's length
SOUND_BANDS = 32
SOUND_FRAMES = 8  # STFT frames averaged per column: a column of an hour-long track is 7.5 s


@dataclass
class SoundPicture:
    """The track's log-mel spectrogram, (bands, columns) in dB below its loudest cell (0 … -80),
    columns tiling [0, duration] evenly; `band_hz`: each band's centre frequency."""

    mel_db: np.ndarray  # (SOUND_BANDS, columns) float16
    band_hz: list[float]

    @property
    def nbytes(self) -> int:
        return self.mel_db.nbytes


def sound_picture(waveform: np.ndarray | None, sample_rate: int, duration: float,
                  columns: int = SOUND_COLUMNS) -> SoundPicture | None:
    """A bounded picture of decoded samples (the ones the MFCC was computed from): each column
    averages the power of up to SOUND_FRAMES STFT frames spread over its time, so its cost and size
    do not grow with the video's length. None without sound."""
    if waveform is None or waveform.size < N_FFT or duration <= 0:
        return None
    columns = max(1, min(columns, int(duration * 10)))  # no finer than a tenth of a second
    edges = np.linspace(0, waveform.size - N_FFT, columns + 1)
    starts = np.concatenate([np.linspace(a, max(a, b - 1), SOUND_FRAMES) for a, b in zip(edges[:-1], edges[1:])])
    frames = waveform[starts.astype(np.int64)[:, None] + np.arange(N_FFT)[None, :]]  # (columns * F, N_FFT)
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    power = np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2
    filters = mel_filters(sample_rate, N_FFT, SOUND_BANDS)
    mel = np.einsum("mf,tf->mt", filters, power.astype(np.float32), optimize=False)
    mel = mel.reshape(SOUND_BANDS, columns, SOUND_FRAMES).mean(axis=2)
    db = 10.0 * np.log10(np.maximum(mel, 1e-10))
    db = np.maximum(db - db.max(), -80.0)
    centres = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sample_rate / 2), SOUND_BANDS + 2))[1:-1]
    return SoundPicture(db.astype(np.float16), [float(hz) for hz in centres])
