"""Print the figures of a `scripts/reproduce.sh` run laid out like the paper's Tables 1 and 3.

    python scripts/reproduce_table.py ve8|ekman6|caer WORK_DIR

Accuracy is the test accuracy of each split's selected epoch (mean ± std over splits, as the
paper reports VideoEmotion-8); detection is class-agnostic mAP on Ekman-6's test videos.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

NAMES = {"ve8": "VideoEmotion-8", "ekman6": "Ekman-6", "caer": "CAER"}
PAPER_ACCURACY = {"ve8": 57.3, "ekman6": 58.2, "caer": 80.1}  # Table 1, "Ours"
PAPER_MAP = {"0.1": 52.7, "0.2": 43.5, "0.3": 40.1, "0.4": 38.2, "0.5": 20.1}  # Table 3, Ekman-6, "Ours"


def table(dataset: str, work: Path) -> str:
    summary = json.loads((work / "run" / "summary.json").read_text())
    acc = summary["mean_std"].get("test_accuracy")
    runs = summary["runs"]
    lines = [f"### {NAMES[dataset]}: Table 1 (accuracy, %)", "",
             "| | splits | test videos per split | selection | accuracy (this run) | accuracy (paper) |",
             "|---|---|---|---|---|---|"]
    ours = "n/a" if acc is None else f"{100 * acc['mean']:.1f} ± {100 * acc['std']:.1f}"
    selections = "; ".join(sorted({r["selection"] for r in runs}))
    lines.append(f"| WECL | {len(runs)} | {runs[0]['test_videos']} | {selections} | {ours} | {PAPER_ACCURACY[dataset]:.1f} |")
    if summary.get("warning"):
        lines += ["", f"**Warning:** {summary['warning']}"]
    detection = work / "detection.json"
    if dataset == "ekman6" and detection.is_file():
        d = json.loads(detection.read_text())
        alphas = list(PAPER_MAP)
        lines += ["", "### Ekman-6: Table 3 (class-agnostic mAP, %, test videos, keyframes by eq. 9)", "",
                  "| | " + " | ".join(f"α = {a}" for a in alphas) + " |", "|---|" + "---|" * len(alphas)]
        lines.append("| WECL (this run) | " + " | ".join(
            "n/a" if (d.get("mAP") or {}).get(a) is None else f"{100 * d['mAP'][a]:.1f}" for a in alphas) + " |")
        lines.append("| WECL (paper) | " + " | ".join(f"{PAPER_MAP[a]:.1f}" for a in alphas) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in NAMES:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    work = Path(argv[1])
    if not (work / "run" / "summary.json").is_file():
        print(f"{work}: no run/summary.json; run scripts/reproduce.sh first", file=sys.stderr)
        return 2
    print(table(argv[0], work))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
