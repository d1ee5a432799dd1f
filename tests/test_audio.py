"""Audio input: MFCC identical to librosa's, per-segment patches, decoding any layout to mono."""
import numpy as np
import pytest
import torch

from wecl.audio import mfcc, mfcc_patches, read_audio

librosa = pytest.importorskip("librosa")


def _assert_like_librosa(y: np.ndarray, sr: int, n_mfcc: int, hop: int) -> None:
    ours = mfcc(y, sr, n_mfcc, hop)
    ref = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=n_mfcc, hop_length=hop, n_fft=512)
    assert ours.shape == ref.shape
    scale = float(np.abs(ref).max())
    assert np.allclose(ours, ref, rtol=1e-3, atol=1e-3 * scale), float(np.abs(ours - ref).max() / scale)


@pytest.mark.parametrize("sr,n_mfcc,hop", [(16000, 40, 160), (22050, 20, 512)])
def test_mfcc_matches_librosa_on_noise(sr, n_mfcc, hop):
    y = np.random.default_rng(0).standard_normal(sr).astype(np.float32) * 0.1
    _assert_like_librosa(y, sr, n_mfcc, hop)


@pytest.mark.parametrize("sr,n_mfcc,hop", [(16000, 40, 160), (16000, 20, 256)])
def test_mfcc_matches_librosa_on_tone(sr, n_mfcc, hop):
    t = np.arange(int(1.3 * sr)) / sr
    y = (0.5 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)
    _assert_like_librosa(y, sr, n_mfcc, hop)


def test_mfcc_matches_librosa_on_half_silence():
    sr = 16000
    y = np.zeros(sr, np.float32)
    y[sr // 2:] = np.sin(2 * np.pi * 1000 * np.arange(sr // 2) / sr)
    _assert_like_librosa(y, sr, 40, 160)


def test_mfcc_in_blocks_matches_librosa(monkeypatch):
    """A long track's spectrum is computed a block of frames at a time: blocks of 100 frames over
    2.5 s (251 frames, the last block partial), quiet first and loud last, so the 80 dB floor set
    by the loudest frame reaches back across blocks; the figures are librosa's still."""
    import wecl.audio

    monkeypatch.setattr(wecl.audio, "MFCC_BLOCK", 100)
    sr = 16000
    t = np.arange(int(2.5 * sr)) / sr
    y = (1e-4 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    y[2 * sr:] = np.sin(2 * np.pi * 2000 * t[2 * sr:])
    _assert_like_librosa(y, sr, 40, 160)


def test_mfcc_frame_count():
    assert mfcc(np.zeros(16000, np.float32), 16000, 40, 160).shape == (40, 1 + 16000 // 160)
    assert mfcc(np.zeros(100, np.float32), 16000, 40, 160).shape == (40, 1)


def test_mfcc_patches_shape_and_three_equal_channels():
    sr = 16000
    y = np.random.default_rng(1).standard_normal(3 * sr).astype(np.float32)
    spans = [(3 * i / 10, 3 * (i + 1) / 10) for i in range(10)]
    patches = mfcc_patches(y, sr, spans, 40, 160)
    assert patches.shape == (10, 3, 224, 224) and patches.dtype == torch.float32
    assert torch.equal(patches[:, 0], patches[:, 1]) and torch.equal(patches[:, 0], patches[:, 2])
    assert torch.isfinite(patches).all()
    assert mfcc_patches(y, sr, spans[:4], 40, 160, size=64).shape == (4, 3, 64, 64)


@pytest.mark.parametrize("waveform", [None, np.zeros(0, np.float32)])
def test_mfcc_patches_zero_without_audio(waveform):
    spans = [(i / 10, (i + 1) / 10) for i in range(10)]
    patches = mfcc_patches(waveform, 16000, spans, 40, 160)
    assert patches.shape == (10, 3, 224, 224)
    assert torch.equal(patches, torch.zeros(10, 3, 224, 224))


def test_mfcc_patches_follow_the_segment_time_spans():
    """Silence for 2 s then a tone for 2 s: the first half's patches are alike, and unlike the
    second half's; each patch comes from its own span's seconds."""
    sr = 16000
    y = np.zeros(4 * sr, np.float32)
    y[2 * sr:] = 0.5 * np.sin(2 * np.pi * 440 * np.arange(2 * sr) / sr)
    spans = [(0.4 * i, 0.4 * (i + 1)) for i in range(10)]
    p = mfcc_patches(y, sr, spans, 40, 160)[:, 0]
    silent, tone = p[:4], p[6:]  # segments 0-3 end by 1.6 s; 6-9 start at 2.4 s
    assert (silent - silent[0]).abs().max() < 1e-4
    gap = (silent[0] - tone[0]).abs().mean()
    assert gap > 0.1
    assert (tone - tone[0]).abs().mean() < 0.1 * gap


def _peak_hz(y: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.fft.rfftfreq(len(y), 1 / sr)[spectrum.argmax()])


@pytest.mark.parametrize("kind,seconds", [("surround", 2.0), ("stereo48k", 2.0), ("av", 3.0)])
@pytest.mark.parametrize("rate", [16000, 22050])
def test_read_audio_any_layout_to_mono(media, kind, seconds, rate):
    y = read_audio(str(media(kind)), rate)
    assert y.ndim == 1 and y.dtype == np.float32
    assert abs(len(y) - seconds * rate) <= 0.03 * seconds * rate, len(y)
    assert abs(_peak_hz(y, rate) - 440) < 3  # the 440 Hz test tone survives downmix and resampling
    assert 0.01 < float(np.abs(y).max()) <= 1.0


def test_read_audio_none_without_audio_stream(media):
    assert read_audio(str(media("silent")), 16000) is None


@pytest.mark.parametrize("seconds", [0.5, 1.234, 10.0])
def test_read_audio_stops_at_the_limit_with_the_same_samples(media, seconds):
    """`max_seconds` (the picture's length) keeps the same leading samples the whole track has, and
    no more; a limit past the track's end keeps the whole track."""
    whole = read_audio(str(media("stereo48k")), 16000)
    cut = read_audio(str(media("stereo48k")), 16000, max_seconds=seconds)
    expected = whole[:int(np.ceil(seconds * 16000))]
    assert cut.dtype == np.float32 and np.array_equal(cut, expected)
