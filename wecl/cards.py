"""Model cards: the README.md of a checkpoint folder and of its Hub repo, one builder (`model_card`)
with its parts (the training notice, the modules switched on, the citation); `published_card`
reads a folder's own card for the Hub.
"""
from __future__ import annotations

import json
from pathlib import Path

from wecl.config import WECLConfig

CITATION = """@inproceedings{zhang2023wecl,
  title     = {Weakly Supervised Video Emotion Detection and Prediction via Cross-Modal Temporal Erasing Network},
  author    = {Zhang, Zhicheng and Wang, Lijuan and Yang, Jufeng},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2023}
}"""


TRAINING_NOTES = {
    "untrained": "**This checkpoint is untrained**: its weights are random. Its predictions and "
    "attention mean nothing; it exists so that the pipeline runs end to end.",
    "synthetic": "**Trained only on synthetic videos** (coloured cues and tones, see "
    "`python -m wecl synth`). It knows nothing about real emotions.",
    "real": "",
    "rule": "**Not the paper's trained WECL: its heads are set by a rule, not trained.** A FER2013 "
    "face-expression network reads the faces; a segment's attention is how far its face is from neutral, "
    "and the emotion is the face's expression, not what the person feels.",
}


def training_notice(config: WECLConfig) -> str | None:
    """The one-line warning every output shows for untrained or synthetic-only checkpoints."""
    note = TRAINING_NOTES.get(config.training, "")
    return note.replace("**", "") or None


def is_paper_model(config: WECLConfig) -> bool:
    """All of Table 2's modules on: both modalities, intra, inter and erasing."""
    return config.modalities == "both" and config.intra and config.inter and config.erasing


def switches_markdown(config: WECLConfig) -> str:
    """The Table 2 switches, theta and the keyframe rule as a table, and whether that is the paper's model."""
    on = lambda x: "on" if x else "**off**"  # noqa: E731
    rows = [("modalities", config.modalities if config.modalities == "both" else f"**{config.modalities}**"),
            ("intra-modal relation (eq. 1-4)", on(config.intra)), ("inter-modal relation (eq. 5-6)", on(config.inter)),
            ("temporal erasing (eq. 9, 12)", on(config.erasing)),
            ("theta", f"{config.theta:g}" if config.theta == 0.7 else f"**{config.theta:g}** (paper: 0.7)"),
            ("keyframes", config.keyframe_rule if config.keyframe_rule == "eq9" else f"**{config.keyframe_rule}** (paper: eq9)")]
    as_written = config.theta == 0.7 and config.keyframe_rule == "eq9"
    if not is_paper_model(config):
        verdict = "This is **not** the paper's full model: the settings in bold differ from it."
    elif as_written:
        verdict = "This is the paper's full model, with the paper's theta and eq. 9."
    else:
        verdict = ("This is the paper's full model (every Table 2 module on); the settings in bold are where it "
                   "departs from the paper's text (docs/ablation.md says why).")
    return "| switch | setting |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows) + "\n\n" + verdict


def model_card(config: WECLConfig, metrics: dict | None = None, data: str | None = None,
               training: str | None = None, metrics_note: str | None = None) -> str:
    """A Hub model card: front matter, what the checkpoint is, its training status and config;
    `data`, `training` and `metrics` (with a `metrics_note` above their table) when known."""
    lines = [
        "---",
        "library_name: wecl",
        "pipeline_tag: video-classification",
        "tags: [video-emotion, wecl, temporal-erasing, audio-visual]",
        "---",
        "",
        f"# WECL checkpoint: {', '.join(config.classes)}",
        "",
        "The cross-modal temporal erasing network of Zhang et al., CVPR 2023 (\"Weakly Supervised "
        "Video Emotion Detection and Prediction via Cross-Modal Temporal Erasing Network\"), in the "
        "format of the WECL Explorer project.",
        "",
    ]
    if config.description:
        lines += [config.description, ""]
    if TRAINING_NOTES.get(config.training):
        lines += [TRAINING_NOTES[config.training], ""]
    lines += ["## Switches (paper Table 2)", "", switches_markdown(config), ""]
    if data:
        lines += ["## Training data", "", data, ""]
    if training:
        lines += ["## Training", "", training, ""]
    if metrics:
        lines += ["## Metrics", ""] + ([metrics_note, ""] if metrics_note else []) + ["| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in metrics.items()]
        lines += [""]
    lines += [
        "## Use",
        "",
        "```",
        "python -m wecl predict video.mp4 --checkpoint <this repo or folder>",
        "```",
        "",
        "## Config",
        "",
        "```json",
        json.dumps(config.to_dict(), indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)


def published_card(folder: Path, config: WECLConfig) -> str:
    """The folder's model card ready for the Hub: with front matter and the WECL citation."""
    card = folder / "README.md"
    text = card.read_text(encoding="utf-8") if card.is_file() else model_card(config)
    if not text.startswith("---\n"):
        front = model_card(config).split("\n---\n", 1)[0] + "\n---\n\n"
        text = front + text
    if "## Citation" not in text:
        text = text.rstrip("\n") + "\n\n## Citation\n\n```bibtex\n" + CITATION + "\n```\n"
    return text
