"""GPU inference: CUDA with bf16 autocast backbones agrees with fp32 on the CPU.

Tolerance: backbone features within 2 % relative (L2 norm of the difference over the norm), and
the class probabilities within 0.02 absolute. Runs only where CUDA is available.
"""
import numpy as np
import pytest
import torch

from wecl import WECL, WECLConfig
from wecl.inference import _run_backbone

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")]


def test_bf16_backbones_on_cuda_match_fp32_on_cpu():
    torch.manual_seed(0)
    model = WECL(WECLConfig(classes=["a", "b", "c"], visual_depth=50, audio_depth=50)).eval()
    clips = torch.randn(4, 3, 16, 112, 112)
    patches = torch.randn(4, 3, 224, 224)
    cpu = [_run_backbone(b, x, torch.device("cpu"), 4) for b, x in ((model.visual_backbone, clips), (model.audio_backbone, patches))]
    model.cuda()
    gpu = [_run_backbone(b, x, torch.device("cuda"), 4) for b, x in ((model.visual_backbone, clips), (model.audio_backbone, patches))]
    for a, b in zip(cpu, gpu):
        assert np.linalg.norm(a - b) / np.linalg.norm(a) < 0.02


def test_heads_on_cuda_match_cpu():
    from wecl.inference import Features, explain
    from wecl.video import VideoInfo

    torch.manual_seed(0)
    model = WECL(WECLConfig(classes=["a", "b", "c"], visual_depth=18, audio_depth=18)).eval()
    rng = np.random.default_rng(0)
    features = Features(VideoInfo("v.mp4", 10.0, 25.0, 64, 64, True), [(i, i + 1.0) for i in range(10)],
                        rng.random((10, 512), np.float32), rng.random((10, 512), np.float32), np.zeros((10, 2, 2, 3), np.uint8))
    cpu = explain(features, model, 0.5, 2).json
    gpu = explain(features, model.cuda(), 0.5, 2).json
    assert np.allclose(cpu["probabilities"], gpu["probabilities"], atol=0.02)
    assert [s["erased_round"] for s in cpu["segments"]] == [s["erased_round"] for s in gpu["segments"]]
