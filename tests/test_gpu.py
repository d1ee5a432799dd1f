"""GPU inference: CUDA with bf16 autocast backbones agrees with fp32 on the CPU.

Tolerance: backbone features within 2 % relative (L2 norm of the difference over the norm), and
the class probabilities within 0.02 absolute. Runs only where CUDA is available.
"""
import numpy as np
import pytest
import torch

from wecl import WECL, WECLConfig
from wecl.device import run_backbone

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")]


def test_bf16_backbones_on_cuda_match_fp32_on_cpu():
    torch.manual_seed(0)
    model = WECL(WECLConfig(classes=["a", "b", "c"], visual_depth=50, audio_depth=50)).eval()
    clips = torch.randn(4, 3, 16, 112, 112)
    patches = torch.randn(4, 3, 224, 224)
    cpu = [run_backbone(b, x, torch.device("cpu"), 4, "fp32")
           for b, x in ((model.visual_backbone, clips), (model.audio_backbone, patches))]
    model.cuda()
    gpu = [run_backbone(b, x, torch.device("cuda"), 4, "bf16")
           for b, x in ((model.visual_backbone, clips), (model.audio_backbone, patches))]
    for a, b in zip(cpu, gpu):
        assert np.linalg.norm(a - b) / np.linalg.norm(a) < 0.02


def test_heads_on_cuda_match_cpu():
    from wecl.features import Features
    from wecl.inference import explain
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


def test_checkpoints_move_between_cuda_and_cpu(tiny_checkpoint, tmp_path):
    """Saved from a model on the GPU, a checkpoint loads on the CPU and back on the GPU with
    identical tensors; the model cache keeps one shared backbone per device."""
    from wecl import checkpoints, inference

    on_gpu = WECL.from_pretrained(tiny_checkpoint, device="cuda")
    assert all(v.is_cuda for v in on_gpu.state_dict().values())
    checkpoints.save(on_gpu, tmp_path / "from-cuda", backbone_dtype="bf16")
    checkpoints.save(on_gpu, tmp_path / "from-cuda-fp32")
    assert ((tmp_path / "from-cuda-fp32" / "model.safetensors").read_bytes()
            == (tiny_checkpoint / "model.safetensors").read_bytes())
    on_cpu = WECL.from_pretrained(tmp_path / "from-cuda")
    back = WECL.from_pretrained(tmp_path / "from-cuda", device="cuda")
    for key, value in on_cpu.state_dict().items():
        assert not value.is_cuda and torch.equal(back.state_dict()[key].cpu(), value), key
    hashed_from_file = inference.load_model(str(tmp_path / "from-cuda"), device="cuda")._backbone_key
    assert on_cpu.backbone_key == back.backbone_key == hashed_from_file
    gpu = inference.load_model(str(tiny_checkpoint), device="cuda")
    cpu = inference.load_model(str(tiny_checkpoint), device="cpu")
    assert gpu.visual_backbone is not cpu.visual_backbone
    assert next(gpu.visual_backbone.parameters()).is_cuda and not next(cpu.visual_backbone.parameters()).is_cuda
    assert gpu.backbone_key == cpu.backbone_key


def test_training_loss_on_cuda_matches_cpu():
    """Eq. 12 with its keyframe and left-segment branches runs on the GPU as on the CPU."""
    from wecl.resnet import feature_dim

    torch.manual_seed(0)
    config = WECLConfig(classes=["a", "b", "c"], visual_depth=10, audio_depth=10, visual_width=0.25, audio_width=0.25)
    model = WECL(config).eval()  # no dropout: the two devices draw different masks
    c = feature_dim(10, 0.25)
    v, a = torch.randn(4, 10, c), torch.randn(4, 10, c)
    labels, present = torch.tensor([0, 1, 2, 1]), torch.tensor([True, True, False, True])
    cpu_loss, cpu_parts = model.loss(v, a, labels, present)
    gpu = model.cuda()
    gpu_loss, gpu_parts = gpu.loss(v.cuda(), a.cuda(), labels.cuda(), present.cuda())
    assert abs(cpu_loss.item() - gpu_loss.item()) < 1e-3
    assert cpu_parts["empty_keyframes"].item() == gpu_parts["empty_keyframes"].item()
    gpu_loss.backward()
    assert all(p.grad is not None and p.grad.is_cuda for p in gpu.heads.classifier.parameters())
