"""Other models' scores in the explorer: an uploaded score file (`wecl.annotations.scores`) read once
for all sessions, one video's intervals of each model in it, and their comparison with the ground
truth. The intervals are drawn as the file gives them; only the comparisons use the detections a
score rule makes of them. A session keeps only the file's path (on a Space, imports are per session).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from explorer.groundtruth import Comparison, compare_times, match_video, shared_parse, shown
from wecl.annotations import Segment, video_id
from wecl.annotations.scores import Rule, Tracks, as_detections, check_video, parse_rule, read_scores
from wecl.errors import WECLError

# One colour per imported model, apart from WECL's own (plots: visual, audio, detections, ground truth).
COLORS = ("#0891b2", "#be185d", "#65a30d", "#c2410c", "#4f46e5", "#0f766e", "#a16207", "#9333ea")
RESERVED = {"detections", "ground truth", "sound"}  # the timeline's own rows
# Intervals the timeline draws in one video, all models together: a 1 h video scored every 0.2 s is
# 18,000 (8 models of 20,000 each would be about 10 MB of figure JSON at every θ move, extrapolated
# from benchmarks/timeline.py's 1.27 MB for 18,200 intervals, the sound and T = 64).
MAX_DRAWN = 20_000


@dataclass
class Track:
    """One imported model's intervals in one video, and the detections its rule makes of them."""

    name: str  # the timeline row's name
    segments: list[Segment]  # as the file gives them, sorted by start
    detections: list[Segment]
    color: str


def rule_from(kind: str | None, value=None) -> Rule:
    """The rule the score-rule controls make (a kind of `RULE_KINDS` and its number), checked."""
    kind = kind or "as-is"
    if kind == "as-is":
        return Rule()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise WECLError(f"the {kind} rule needs a finite number, not {value!r}"[:200])
    return parse_rule(f"{kind}:{float(value)!r}")


def check_known(path: str, tracks: Tracks, known: Mapping[str, float | None]) -> None:
    """Every model's videos are among `known` and end within their durations (a dataset's)."""
    for model, track in tracks.items():
        for ann in track.values():
            check_video(Path(path).name, model, ann, known)


def read_imports(path: str) -> Tracks:
    """Every model of an uploaded score file, shared by the sessions that upload the same file."""
    return shared_parse([str(path)], "scores", lambda paths: read_scores(paths[0]),
                        lambda tracks: sum(len(a.segments) + 1 for t in tracks.values() for a in t.values()))


def video_tracks(path: str | None, video: str | None, duration: float, rule: Rule = Rule()) -> list[Track]:
    """The imported models' intervals in this video (matched by file name, or the only video of the
    file), checked against its duration; [] when no model in the file has this video (a file for
    other videos is not a bad file: `summary_markdown` says so)."""
    if not path or not video:
        return []
    tracks, name = read_imports(path), Path(str(path)).name
    videos = sorted({vid for track in tracks.values() for vid in track})
    out = []
    for n, (model, track) in enumerate(tracks.items()):
        vid = _this_video(track, video, videos)
        if vid is None:
            continue
        ann = track[vid]
        check_video(name, model, ann, {vid: duration})
        drawn = len(ann.segments) + sum(len(t.segments) for t in out)
        if drawn > MAX_DRAWN:
            before = f", after {drawn - len(ann.segments):,} of the models before it" if out else ""
            raise WECLError(f'{name}: model "{model}" has {len(ann.segments):,} intervals in video "{vid}"{before}; '
                            f"the timeline draws at most {MAX_DRAWN:,} in a video, all models together")
        row = f"{model} (imported)" if model in RESERVED else model
        out.append(Track(row, sorted(ann.segments, key=lambda s: s.start),
                         as_detections({vid: ann}, rule)[vid].segments, COLORS[n % len(COLORS)]))
    return out


def _this_video(track: dict, video: str, videos: list[str]) -> str | None:
    """The id of `video` in a model's track: by file name (case aside where that is unique); a
    file of one video (`videos`: every model's) is this video's, whatever its name."""
    if len(videos) == 1:
        return videos[0] if videos[0] in track else None
    return match_video({v: None for v in track if v.lower() == video_id(video).lower()}, video)


def comparisons(truth: Sequence[Segment], tracks: Sequence[Track]) -> dict[str, Comparison]:
    """Each imported model against the ground truth: best tIoU of each ground-truth segment with
    its detections, precision and recall of its detected time."""
    out = {}
    for track in tracks:
        spans = [(s.start, s.end) for s in track.detections]
        out[track.name] = compare_times(truth, spans, spans)
    return out


def summary_markdown(tracks: Tracks, video: str | None = None, source: str | None = None) -> str:
    """What an imported file (`source`, its name) holds: each model's videos, intervals and score
    range, and whether it has this video."""
    lines, videos = [], sorted({vid for track in tracks.values() for vid in track})
    for model, track in tracks.items():
        scores = [s.score for ann in track.values() for s in ann.segments]
        here = _this_video(track, video, videos) if video else None
        note = f"; this video: **{len(track[here].segments)}** intervals" if here is not None else \
            ("; **none for this video**" if video else "")
        lines.append(f"- **{shown(model)}**: {len(track)} video{'s' if len(track) != 1 else ''}, {len(scores)} intervals, "
                     f"scores {min(scores, default=0):.4g} … {max(scores, default=0):.4g}{note}")
    where = f" from `{Path(source).name.replace('`', chr(39))}`" if source else ""
    return f"Imported{where} (drawn on the timeline, compared on the Ground truth tab):\n\n" + "\n".join(lines)
