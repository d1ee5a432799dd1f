"""Benchmark paper-size checkpoints: R3D-101 + R2D-50 + the eq. 1-7 heads (151 M parameters).

    python benchmarks/checkpoint.py [--device cpu|cuda] [--skip-features]

For backbones stored in fp32 and in bf16 it prints the save time, the files' size, and, each in a
fresh process, the load time, the RSS after loading and the peak RSS; the same for the fp32
checkpoint in a Hub cache layout, whose files are memory-mapped. Then the RSS of two
checkpoints that share their frozen backbones (different heads) loaded side by side through the
model cache, against one (target <= 1.15 x), and what bf16 storage does to the backbones'
features and to the predicted probabilities. Weights are random (no download here): storage
costs do not depend on them, and the feature error of bf16 rounding is that of random weights.
With --device cuda it also checks that a checkpoint saved from the GPU loads on the CPU and back.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLASSES = ["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral", "contempt"]

# Run in a fresh process so that each figure is that process's own (VmHWM is per process).
PROBE = """
import json, sys, time
t0 = time.perf_counter()
import torch
from wecl import inference
def status():
    got = {}
    for line in open("/proc/self/status"):
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            got[name] = int(value.split()[0]) * 1024
    return got
base = status()["VmRSS"]
out = {"import_s": time.perf_counter() - t0, "base_rss": base, "loads": []}
for spec in sys.argv[2:]:
    t = time.perf_counter()
    model = inference.load_model(spec, device=sys.argv[1])
    if sys.argv[1] == "cuda":
        torch.cuda.synchronize()
    # touch every weight once, as a first prediction does (memory-mapped pages are read lazily)
    total = sum(float(v.float().sum()) for v in model.state_dict().values())
    gpu = torch.cuda.memory_allocated() if sys.argv[1] == "cuda" else 0
    out["loads"].append({"spec": spec, "load_s": time.perf_counter() - t, **status(), "gpu": gpu, "checksum": total})
print(json.dumps(out))
"""


def mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MB"


def probe(device: str, *folders: Path | str, env: dict | None = None) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, device, *map(str, folders)], cwd=ROOT,
                          capture_output=True, text=True, check=False, env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout)


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.safetensors"))


def hub_cache(folder: Path, root: Path) -> dict:
    """`folder` laid out as the Hub cache lays out a download (blobs + a snapshot of links), and the
    environment that makes `bench/paper` load from it offline (memory-mapped, as Hub files are)."""
    import hashlib

    repo, commit = root / "models--bench--paper", "0" * 40
    (repo / "blobs").mkdir(parents=True)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    for path in folder.iterdir():
        blob = repo / "blobs" / hashlib.sha256(path.name.encode()).hexdigest()
        os.link(path, blob)
        os.symlink(os.path.relpath(blob, repo / "snapshots" / commit), repo / "snapshots" / commit / path.name)
    return {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(root)}


def feature_effect(fp32: Path, bf16: Path) -> dict:
    """Backbone features and probabilities on the same random inputs with fp32 and bf16-stored weights."""
    import torch

    from wecl import WECL

    a, b = WECL.from_pretrained(fp32), WECL.from_pretrained(bf16)
    gen = torch.Generator().manual_seed(0)
    clips = torch.randn(10, 3, 16, 112, 112, generator=gen) * 60
    patches = torch.randn(10, 3, 224, 224, generator=gen) * 20
    out = {}
    with torch.inference_mode():
        for name, x in (("visual", clips), ("audio", patches)):
            fa = getattr(a, f"{name}_backbone")(x)
            fb = getattr(b, f"{name}_backbone")(x)
            out[name] = {
                "max_abs": float((fa - fb).abs().max()),
                "rel_l2": float((fa - fb).norm() / fa.norm()),
                "cosine_min": float(torch.nn.functional.cosine_similarity(fa, fb, dim=-1).min()),
            }
            out[name + "_features"] = (fa, fb)
        pa = a(out["visual_features"][0][None], out["audio_features"][0][None]).logits.softmax(-1)
        pb = b(out["visual_features"][1][None], out["audio_features"][1][None]).logits.softmax(-1)
    out["probability_max_abs"] = float((pa - pb).abs().max())
    out["same_top1"] = bool(pa.argmax() == pb.argmax())
    for name in ("visual", "audio"):
        del out[name + "_features"]
    return out


def cuda_round_trip(tmp: Path) -> str:
    """Save from the GPU, load on the CPU and back: identical tensors both ways."""
    import torch

    from wecl import WECL, checkpoints

    model = WECL.from_pretrained(tmp / "fp32", device="cuda")
    checkpoints.save(model, tmp / "from-cuda")
    on_cpu = WECL.from_pretrained(tmp / "from-cuda")
    back = WECL.from_pretrained(tmp / "from-cuda", device="cuda")
    ref = model.state_dict()
    same_cpu = all(torch.equal(ref[k].cpu(), v) for k, v in on_cpu.state_dict().items())
    same_gpu = all(torch.equal(ref[k], v) and v.is_cuda for k, v in back.state_dict().items())
    return f"saved on cuda -> loaded on cpu identical: {same_cpu}; -> loaded on cuda identical: {same_gpu}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-features", action="store_true", help="skip the bf16 feature comparison")
    args = parser.parse_args()

    import torch

    from wecl import WECL, WECLConfig, checkpoints

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"device {args.device}" + (f" ({torch.cuda.get_device_name()})" if args.device == "cuda" else ""))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        from wecl.settings import configure
        configure(cache=str(tmp / "cache"))
        torch.manual_seed(0)
        model = WECL(WECLConfig(classes=CLASSES)).eval()
        params = sum(v.numel() for v in model.state_dict().values())
        heads = sum(v.numel() for v in model.heads.state_dict().values())
        print(f"model: {params / 1e6:.1f} M parameters ({heads / 1e6:.1f} M in the heads)")
        rows = []
        for dtype in ("fp32", "bf16"):
            t = time.perf_counter()
            checkpoints.save(model, tmp / dtype, backbone_dtype=dtype)
            save_s = time.perf_counter() - t
            figures = probe(args.device, tmp / dtype)
            load = figures["loads"][0]
            rows.append((dtype, save_s, folder_size(tmp / dtype), load["load_s"], load["VmRSS"], load["VmHWM"],
                         figures["base_rss"], load["gpu"]))
        figures = probe(args.device, "bench/paper", env=hub_cache(tmp / "fp32", tmp / "hub"))
        load = figures["loads"][0]
        rows.append(("fp32, Hub cache (memory-mapped)", 0.0, folder_size(tmp / "fp32"), load["load_s"], load["VmRSS"],
                     load["VmHWM"], figures["base_rss"], load["gpu"]))
        gpu = args.device == "cuda"
        print("\n| backbones stored | save | files | load | RSS after load | peak RSS | RSS before load |"
              + (" GPU memory |" if gpu else ""))
        print("|---|---|---|---|---|---|---|" + ("---|" if gpu else ""))
        for dtype, save_s, size, load_s, rss, hwm, base, cuda in rows:
            print(f"| {dtype} | {f'{save_s:.2f} s' if save_s else ''} | {mb(size)} | {load_s:.2f} s "
                  f"| {mb(rss)} | {mb(hwm)} | {mb(base)} |"
                  + (f" {mb(cuda)} |" if gpu else ""))

        # Same backbones, other heads: a re-trained checkpoint.
        torch.manual_seed(1)
        other = WECL(WECLConfig(classes=CLASSES)).eval()
        other.visual_backbone.load_state_dict(model.visual_backbone.state_dict())
        other.audio_backbone.load_state_dict(model.audio_backbone.state_dict())
        checkpoints.save(other, tmp / "other-heads")
        one = probe(args.device, tmp / "fp32")
        two = probe(args.device, tmp / "fp32", tmp / "other-heads")
        r1, r2 = one["loads"][-1]["VmRSS"], two["loads"][-1]["VmRSS"]
        print(f"\ntwo checkpoints sharing their backbones, loaded side by side: RSS {mb(r2)} vs one {mb(r1)}"
              f" = {r2 / r1:.2f} x (target <= 1.15 x; the second one's heads are {mb(heads * 4)})")
        print(f"  peak RSS while loading the two: {mb(two['loads'][-1]['VmHWM'])}")
        if gpu:
            g1, g2 = one["loads"][-1]["gpu"], two["loads"][-1]["gpu"]
            print(f"  GPU memory: {mb(g2)} vs one {mb(g1)} = {g2 / g1:.2f} x")
        if not args.skip_features:
            effect = feature_effect(tmp / "fp32", tmp / "bf16")
            print("\nbf16-stored backbones vs fp32, same random inputs (10 clips, 10 MFCC patches):")
            for name in ("visual", "audio"):
                e = effect[name]
                print(f"  {name} features: max |diff| {e['max_abs']:.3g}, relative L2 {e['rel_l2']:.3g}, "
                      f"min cosine {e['cosine_min']:.6f}")
            print(f"  probabilities: max |diff| {effect['probability_max_abs']:.3g}, same top-1: {effect['same_top1']}")
        if args.device == "cuda":
            print("\n" + cuda_round_trip(tmp))


if __name__ == "__main__":
    main()
