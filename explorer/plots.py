"""Figures and tables of one prediction (the result JSON, docs/formats.md#result-json): the attention timeline,
class probabilities, the thumbnail strip and the segment table. No gradio here: every function
takes the result dict (and ground truth) and returns a plotly figure, an image or a table.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from PIL import Image, ImageDraw, ImageFont

from explorer.imported import Track
from wecl.annotations import Segment
from wecl.audio import SoundPicture
from wecl.detection import RULE_TITLES
from wecl.schema import Result

VISUAL_COLOR = "#2563eb"
AUDIO_COLOR = "#f59e0b"
THETA_COLOR = "#111827"
DETECTION_COLOR = "#7c3aed"
GROUND_TRUTH_COLOR = "#16a34a"
# Erased shading, one colour per erasing round (round 0 = keyframes of the full video, eq. 9).
ROUND_COLORS = ("#ef4444", "#ec4899", "#8b5cf6", "#0ea5e9", "#14b8a6")
TRACKS = ("detections", "ground truth")


def round_color(r: int) -> str:
    return ROUND_COLORS[r % len(ROUND_COLORS)]


def _hex_rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))


def _value(x: float | None) -> float:
    return 0.0 if x is None else float(x)


IMPORTANCE_COLOR = "#059669"


def timeline_figure(result: Result, ground_truth: Sequence[Segment] = (), importance: Sequence[float] | None = None,
                    imported: Sequence[Track] = (), sound: SoundPicture | str | None = None) -> go.Figure:
    """Attention per segment on the video's seconds: visual and audio A* as bars (raw A in the
    hover), later erasing rounds' A* as dotted lines, theta as a line, erased segments shaded by
    round, and below, on their own tracks, the detections, the ground-truth segments and each
    imported model's intervals as its file gives them (`imported`); with `sound`, a row for the
    log-mel spectrogram on the same time axis (or a sentence in its place, such as "no sound"). With
    `importance` (leave-one-out, `wecl.faithfulness`), each segment's signed Δp on an axis of its own."""
    segments = result["segments"]
    duration = float(result["video"]["duration"])
    has_audio = bool(result["video"]["has_audio"])
    theta = float(result["theta"])
    # Plain lists, not numpy arrays: plotly would send those as base64 typed arrays, which older
    # plotly.js builds (and anyone reading the figure JSON) do not expect.
    centres = [(s["start"] + s["end"]) / 2 for s in segments]
    lengths = [s["end"] - s["start"] for s in segments]
    custom = [[s["index"], s["start"], s["end"]] for s in segments]
    # Erased shading first, so that the attention bars are drawn over it.
    traces: list[go.BaseTraceType] = [*_erased_bars(segments, centres, lengths, custom),
                                      *_attention_bars(segments, has_audio, centres, lengths, custom),
                                      *_later_rounds(result, centres)]
    traces.append(go.Scatter(
        x=[0.0, duration], y=[theta, theta], mode="lines", name=f"θ = {theta:.2f}",
        line=dict(color=THETA_COLOR, dash="dash", width=1.5), hoverinfo="skip",
    ))

    detections = [(d["start"], d["end"], f"{d['label']}, score {d['score']:.3f}") for d in result["detections"]]
    truth = [(g.start, g.end, g.label or "") for g in ground_truth]
    traces.append(_track(detections, "detections", DETECTION_COLOR, detection_why(result.get("keyframe_rule", "eq9"))))
    traces.append(_track(truth, "ground truth", GROUND_TRUTH_COLOR))
    traces += [_imported_track(track) for track in imported]
    if importance is not None:
        traces.append(go.Scatter(
            x=centres, y=[float(v) for v in importance], yaxis="y3", mode="lines+markers", name="leave-one-out Δp",
            line=dict(color=IMPORTANCE_COLOR, width=2, shape="hvh"), marker=dict(size=6, symbol="diamond"),
            customdata=custom,
            hovertemplate=("segment %{customdata[0]}: p(prediction) falls by %{y:+.3f} without it<br>(leave-one-out, "
                           "the rest resampled to T; negative: the prediction gains without it)<extra></extra>"),
        ))
    traces[:0] = _no_face_bars(segments, centres, lengths, custom)
    annotations = []
    audio_model = any(s["audio_attention_norm"] is not None for s in segments)
    if not audio_model or not has_audio:
        text = "no audio track: visual attention only" if not has_audio else \
            "no audio model in this checkpoint: visual attention only"
        annotations.append(dict(text=text, xref="paper", yref="paper",  # inside the plot: clear of the toolbar
                                x=1, y=1.0, xanchor="right", yanchor="top", showarrow=False,
                                bgcolor="rgba(255,255,255,0.85)", font=dict(size=11, color="#b45309")))
    rows = [*TRACKS, *(track.name for track in imported)]
    layout = _timeline_layout(result, rows, importance, sound is not None)
    if sound is not None:
        traces += _sound_traces(sound, duration, annotations, sum(layout["yaxis4"]["domain"]) / 2)
    layout["annotations"] = annotations
    # What the player (assets/player.js) steps through: segments and detections, in seconds.
    layout["meta"] = {"wecl": {"duration": duration, "segments": [[s["start"], s["end"]] for s in segments],
                               "detections": [[d["start"], d["end"]] for d in result["detections"]]}}
    return go.Figure(data=traces, layout=layout)


# The timeline's rows, in pixels: attention above, then the sound, then one row per track.
ATTENTION_PX, SOUND_PX, ROW_PX, GAP_PX, MARGIN_TOP, MARGIN_BOTTOM = 250, 80, 34, 26, 64, 80


def _timeline_layout(result: Result, rows: list[str], importance, with_sound: bool) -> dict:
    """The axes: attention (y, y3 for Δp), the sound (y4) and the tracks (y2, a category per row),
    stacked by pixel heights so that added rows never squeeze the attention."""
    tracks_px = ROW_PX * len(rows) + 10
    plot_px = ATTENTION_PX + (SOUND_PX + GAP_PX if with_sound else 0) + GAP_PX + tracks_px
    frac = lambda px: px / plot_px  # noqa: E731
    tracks_top = frac(tracks_px)
    sound_domain = [tracks_top + frac(GAP_PX), tracks_top + frac(GAP_PX + SOUND_PX)]
    attention_bottom = (sound_domain[1] if with_sound else tracks_top) + frac(GAP_PX)
    duration = float(result["video"]["duration"])
    layout = dict(
        template="plotly_white", height=plot_px + MARGIN_TOP + MARGIN_BOTTOM, barmode="overlay", bargap=0,
        # The settings on two short lines and the legend under the axis: on a 390 px phone a one-line
        # title was cut off and a legend above the plot hid behind plotly's toolbar.
        title=dict(text=settings_title(result).replace(" · keyframes", "<br>keyframes"), x=0.01, font=dict(size=12)),
        margin=dict(l=60, r=20 if importance is None else 64, t=MARGIN_TOP, b=20), hovermode="closest",
        legend=dict(orientation="h", x=0, y=-frac(46), xanchor="left", yanchor="top", font=dict(size=11)),
        xaxis=dict(title="time (s)", range=[0, duration], anchor="y2", showgrid=True),
        yaxis=dict(title="attention A*", range=[0, 1.05], domain=[attention_bottom, 1.0]),
        yaxis2=dict(domain=[0.0, tracks_top], type="category", categoryorder="array", categoryarray=rows,
                    range=[-0.5, len(rows) - 0.5], showgrid=False),
    )
    if importance is not None:
        layout["yaxis3"] = dict(overlaying="y", side="right", title=dict(text="leave-one-out Δp", font=dict(
            color=IMPORTANCE_COLOR, size=11)), zeroline=True, zerolinecolor=IMPORTANCE_COLOR, showgrid=False,
            range=_symmetric(importance))
    if with_sound:
        layout["yaxis4"] = dict(domain=sound_domain, title=dict(text="sound", font=dict(size=11)), showgrid=False,
                                showticklabels=False, zeroline=False)
    return layout


# More intervals than this in one model's row are drawn with WebGL (one marker each), fewer as bars.
WEBGL_FROM = 1000


def _imported_track(track: Track) -> go.Bar | go.Scattergl:
    """An imported model's intervals on its own row, as the file gives them: opacity follows the
    score (scaled within the row), the raw score and label in the hover."""
    scores = [float(s.score) for s in track.segments]
    low, high = min(scores, default=0.0), max(scores, default=1.0)
    shade = [0.3 + 0.7 * ((x - low) / (high - low) if high > low else 1.0) for x in scores]
    if len(track.segments) > WEBGL_FROM:  # one marker per interval, its centre; the score and label in the hover
        return go.Scattergl(x=[round((s.start + s.end) / 2, 3) for s in track.segments], y=[track.name] * len(scores),
                            yaxis="y2", mode="markers", name=track.name, text=[s.label or "" for s in track.segments],
                            customdata=scores, hovertemplate=f"{track.name} (imported): %{{x:.2f}} s<br>score "
                                                             "%{customdata:.4g} %{text}<extra></extra>",
                            marker=dict(symbol="square", size=10, color=track.color, opacity=shade,
                                        line=dict(width=0)))
    custom = [[s.start, s.end, float(s.score), s.label or ""] for s in track.segments]
    hover = (f"{track.name} (imported): %{{customdata[0]:.2f}}–%{{customdata[1]:.2f}} s<br>score "
             "%{customdata[2]:.4g} %{customdata[3]}<extra></extra>")
    return go.Bar(y=[track.name] * len(scores), x=[s.end - s.start for s in track.segments],
                  base=[s.start for s in track.segments], orientation="h", yaxis="y2", width=0.6, name=track.name,
                  marker=dict(color=track.color, opacity=shade, line=dict(width=0.5, color="white")),
                  customdata=custom, hovertemplate=hover)


def _sound_traces(sound: SoundPicture | str, duration: float, annotations: list, middle: float) -> list[go.Heatmap]:
    """The log-mel spectrogram on the sound row, or the sentence given in its place (at `middle`, in
    paper coordinates: an axis without a trace places nothing)."""
    if isinstance(sound, str):
        annotations.append(dict(text=sound, xref="paper", yref="paper", x=0.5, y=middle, showarrow=False,
                                font=dict(size=12, color="#6b7280")))
        return []
    step = duration / sound.mel_db.shape[1]
    return [go.Heatmap(
        z=sound.mel_db.astype(float).round(1).tolist(), x=[(i + 0.5) * step for i in range(sound.mel_db.shape[1])],
        y=[f"{hz:.0f} Hz" for hz in sound.band_hz], yaxis="y4", colorscale="Magma", showscale=False, name="sound",
        hovertemplate="%{x:.2f} s · %{y}: %{z:.0f} dB (log-mel, from the decoded track)<extra></extra>",
    )]


def _symmetric(values: Sequence[float]) -> list[float]:
    """An axis range centred on zero that holds every value (Δp is signed)."""
    top = max([abs(float(v)) for v in values] + [1e-3]) * 1.15
    return [-top, top]


def _erased_bars(segments, centres, lengths, custom) -> list[go.Bar]:
    """One shaded bar per erased segment, coloured by the round that erased it."""
    traces = []
    rounds = sorted({s["erased_round"] for s in segments if s["erased_round"] is not None})
    for r in rounds:
        idx = [i for i, s in enumerate(segments) if s["erased_round"] == r]
        traces.append(go.Bar(
            x=[centres[i] for i in idx], y=[1.0] * len(idx), width=[lengths[i] for i in idx], base=0,
            marker=dict(color=round_color(r), opacity=0.18, line=dict(width=0)),
            name=f"erased in round {r}", legendgroup=f"round{r}", customdata=[custom[i] for i in idx],
            hovertemplate=f"segment %{{customdata[0]}}: erased in round {r}<extra></extra>",
        ))
    return traces


def _no_face_bars(segments, centres, lengths, custom) -> list[go.Bar]:
    """A face checkpoint's segments without a face, hatched grey (their attention is 0)."""
    idx = [i for i, s in enumerate(segments) if s.get("face") is False]
    if not idx:
        return []
    return [go.Bar(
        x=[centres[i] for i in idx], y=[1.0] * len(idx), width=[lengths[i] for i in idx], base=0,
        marker=dict(color="rgba(0,0,0,0)", line=dict(width=0), pattern=dict(shape="/", fgcolor="#9ca3af", size=8)),
        name="no face", customdata=[custom[i] for i in idx],
        hovertemplate="segment %{customdata[0]}: no face found (attention 0)<extra></extra>",
    )]


def _attention_bars(segments, has_audio: bool, centres, lengths, custom) -> list[go.Bar]:
    """A* of each modality the model has (audio only when the video has sound), raw A in the hover."""
    traces = []
    modalities = [("visual", VISUAL_COLOR, -0.42)]
    if has_audio and any(s["audio_attention_norm"] is not None for s in segments):
        modalities.append(("audio", AUDIO_COLOR, 0.02))
    elif len(modalities) == 1:
        modalities[0] = ("visual", VISUAL_COLOR, -0.2)
    for name, color, offset in modalities:
        if all(s[f"{name}_attention_norm"] is None for s in segments):
            continue
        norm = [_value(s[f"{name}_attention_norm"]) for s in segments]
        raw = [_value(s[f"{name}_attention"]) for s in segments]
        traces.append(go.Bar(
            x=centres, y=norm, width=[w * 0.4 for w in lengths], offset=[w * offset for w in lengths],
            marker=dict(color=color), name=f"{name} attention",
            customdata=[c + [r] for c, r in zip(custom, raw)],
            hovertemplate=(f"segment %{{customdata[0]}} (%{{customdata[1]:.2f}}–%{{customdata[2]:.2f}} s)<br>"
                           f"{name} A* = %{{y:.3f}} (eq. 8: A rescaled to [0, 1] over the video)<br>"
                           "raw A = %{customdata[3]:.4g} (eq. 7's attention weight)<extra></extra>"),
        ))
    return traces


# Why a detection exists, in its hover: a run of keyframes under the result's rule.
def detection_why(rule: str) -> str:
    if rule == "fused":
        return "a run of keyframes: segments whose mean A* reached θ in some erasing round (dotted lines)"
    return f"a run of keyframes erased in round 0 ({RULE_TITLES[rule].removeprefix('keyframes: ')})"


def _later_rounds(result: Result, centres: list[float]) -> list[go.Scatter]:
    """The attention of erasing rounds 1, 2, … (each on what the earlier rounds left), one dotted
    line per modality and round, gaps where a segment was already erased; legend-toggled by round."""
    traces = []
    for entry in result.get("rounds_attention", [])[1:]:
        r = entry["round"]
        for name, dash in (("visual", "dot"), ("audio", "dashdot")):
            values = entry.get(name)
            if values is None or all(v is None for v in values):
                continue
            traces.append(go.Scatter(
                x=centres, y=values, mode="lines+markers", name=f"round {r}: {name} A*", legendgroup=f"round{r}",
                line=dict(color=round_color(r), dash=dash, width=1.5), marker=dict(size=5), connectgaps=False,
                hovertemplate=(f"round {r}, {name} A* = %{{y:.3f}}<br>A* of the segments left after round "
                               f"{r - 1}'s erasing, rescaled again<extra></extra>"),
            ))
    return traces


def _track(items: Sequence[tuple[float, float, str]], name: str, color: str, why: str = "") -> go.Bar:
    """(start, end, hover text) items as bars on their own track below the attention; `why` is
    added to every hover."""
    why = f"<br>{why}" if why else ""
    return go.Bar(
        y=[name] * len(items), x=[e - s for s, e, _ in items], base=[s for s, _, _ in items],
        orientation="h", xaxis="x", yaxis="y2", width=0.6, name=name, showlegend=False,
        marker=dict(color=color, opacity=0.85, line=dict(width=1, color="white")),
        customdata=[[s, e, text] for s, e, text in items],
        hovertemplate=f"{name}: %{{customdata[0]:.2f}}–%{{customdata[1]:.2f}} s<br>%{{customdata[2]}}{why}<extra></extra>",
    )


def settings_title(result: Result) -> str:
    """What the detections of a result depend on, for figure titles: θ, rounds and the keyframe rule."""
    rounds = result.get("rounds", 1)
    return (f"θ = {float(result['theta']):.2f} · {rounds} erasing round{'s' if rounds != 1 else ''} · "
            f"{RULE_TITLES[result.get('keyframe_rule', 'eq9')]}")


def probabilities_figure(result: Result) -> go.Figure:
    """Class probabilities as horizontal bars, the prediction highlighted."""
    classes, probs = list(result["classes"]), [float(p) for p in result["probabilities"]]
    colors = [VISUAL_COLOR if c == result["prediction"] else "#cbd5e1" for c in classes]
    bar = go.Bar(
        x=probs, y=classes, orientation="h", marker=dict(color=colors),
        text=[f"{p:.1%}" for p in probs], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:.3f}<extra></extra>",
    )
    layout = dict(
        template="plotly_white", height=90 + 26 * len(classes), margin=dict(l=90, r=50, t=44, b=30),
        xaxis=dict(range=[0, max(1.0, max(probs, default=0) * 1.15)], tickformat=".0%"),
        yaxis=dict(autorange="reversed"), showlegend=False,
    )
    return go.Figure(data=[bar], layout=layout)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size)
    except TypeError:  # Pillow < 10.1 has one bitmap size
        return ImageFont.load_default()


def thumbnail_strip(thumbnails: np.ndarray, result: Result, height: int = 96, columns: int | None = None) -> np.ndarray:
    """One image: a thumbnail per segment with its time span, `columns` per row (default: all in
    one row); erased segments framed in their round's colour and marked "erased r<round>".
    -> (H, W, 3) uint8."""
    small = _font(13)
    tiles = []
    for thumb, seg, width in zip(thumbnails, result["segments"], _tile_widths(thumbnails, result, height, small)):
        h, w = thumb.shape[:2]
        tile = Image.fromarray(np.ascontiguousarray(thumb)).resize((max(1, round(w * height / h)), height),
                                                                    Image.BILINEAR)
        if tile.width < width:  # a portrait thumbnail is narrower than its caption: centred on a white tile
            wide = Image.new("RGB", (width, height), "white")
            wide.paste(tile, ((width - tile.width) // 2, 0))
            tile = wide
        tiles.append((tile, seg))
    row_h = height + 2 * STRIP_BORDER + STRIP_CAPTION
    places = list(_placed([t.width for t, _ in tiles], columns))
    total = max((x + t.width + 2 * STRIP_BORDER for (t, _), (_, x) in zip(tiles, places)), default=1)
    rows = 1 + max((n for n, _ in places), default=0)
    canvas = Image.new("RGB", (max(total, 1), row_h * rows + STRIP_GAP * (rows - 1)), "white")
    draw = ImageDraw.Draw(canvas)
    for (tile, seg), (n, x) in zip(tiles, places):
        _draw_tile(canvas, draw, small, tile, seg, x, n * (row_h + STRIP_GAP), height, STRIP_BORDER)
    return np.asarray(canvas)


STRIP_BORDER, STRIP_CAPTION, STRIP_GAP = 4, 20, 4


def strip_segment_at(thumbnails: np.ndarray, result: Result, x: float, y: float, height: int = 96,
                     columns: int | None = None) -> int | None:
    """The index of the segment whose tile of `thumbnail_strip` holds pixel (x, y), or None."""
    widths = _tile_widths(thumbnails, result, height, _font(13))
    row_h = height + 2 * STRIP_BORDER + STRIP_CAPTION
    for i, (width, (n, left)) in enumerate(zip(widths, _placed(widths, columns))):
        top = n * (row_h + STRIP_GAP)
        if left <= x < left + width + 2 * STRIP_BORDER and top <= y < top + row_h:
            return i
    return None


def _tile_widths(thumbnails: np.ndarray, result: Result, height: int, font) -> list[int]:
    """Each tile's width: its thumbnail at `height`, or its caption's width where that is wider."""
    widths = []
    for thumb, seg in zip(thumbnails, result["segments"]):
        h, w = thumb.shape[:2]
        text = max(font.getbbox(_caption(seg))[2], font.getbbox("erased r0")[2] + 6)
        widths.append(max(max(1, round(w * height / h)), text))
    return widths


def _placed(widths: list[int], columns: int | None):
    """(row, x) of each tile, `columns` per row (all in one row by default)."""
    columns = max(1, columns or len(widths) or 1)
    x = 0
    for i, width in enumerate(widths):
        if i % columns == 0:
            x = 0
        yield i // columns, x
        x += width + 2 * STRIP_BORDER + STRIP_GAP


def _draw_tile(canvas: Image.Image, draw: ImageDraw.ImageDraw, font, tile: Image.Image, seg: dict,
               x: int, y: int, height: int, border: int) -> None:
    r = seg["erased_round"]
    frame = round_color(r) if r is not None else "#e5e7eb"
    draw.rectangle([x, y, x + tile.width + 2 * border - 1, y + height + 2 * border - 1], fill=frame)
    canvas.paste(tile, (x + border, y + border))
    if r is not None or seg.get("face") is False:
        label = f"erased r{r}" if r is not None else "no face"
        box = draw.textbbox((0, 0), label, font=font)
        draw.rectangle([x + border, y + border, x + border + box[2] + 6, y + border + box[3] + 4],
                       fill=frame if r is not None else "#6b7280")
        draw.text((x + border + 3, y + border + 1), label, fill="white", font=font)
    draw.text((x + border, y + height + 2 * border + 3), _caption(seg), fill="#374151", font=font)


def _caption(seg: dict) -> str:
    return f"{seg['index']}: {seg['start']:.1f}-{seg['end']:.1f} s"  # ASCII: any font has it


SEGMENT_COLUMNS = ["segment", "start (s)", "end (s)", "visual A*", "audio A*", "visual A (raw)", "audio A (raw)",
                   "erased in round"]


def segments_table(result: Result) -> pd.DataFrame:
    """One row per segment: times, normalised and raw attention ("—" where there is none: no such
    model, no sound), the round that erased it."""
    def num(x: float | None, digits: int) -> float | str:
        return "—" if x is None else round(float(x), digits)

    rows = [[s["index"], round(s["start"], 3), round(s["end"], 3), num(s["visual_attention_norm"], 3),
             num(s["audio_attention_norm"], 3), num(s["visual_attention"], 4), num(s["audio_attention"], 4),
             "" if s["erased_round"] is None else str(s["erased_round"])] for s in result["segments"]]
    table = pd.DataFrame(rows, columns=SEGMENT_COLUMNS)
    if all("face" in s for s in result["segments"]):  # a face checkpoint
        table["face"] = ["yes" if s["face"] else "no" for s in result["segments"]]
    return table


def segments_csv(result: Result) -> str:
    """The segments as CSV: index,start,end,visual/audio attention (raw and normalised),erased_round."""
    keys = ["index", "start", "end", "visual_attention", "audio_attention", "visual_attention_norm",
            "audio_attention_norm", "erased_round"]
    if all("face" in s for s in result["segments"]):
        keys.append("face")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(keys)
    for s in result["segments"]:
        writer.writerow(["" if s[k] is None else s[k] for k in keys])
    return out.getvalue()


# Checkpoints whose answer is no emotion reading at all: the warning comes first, as large as the answer.
DEMONSTRATION = {"untrained": "Untrained checkpoint: random weights, no emotion reading",
                 "synthetic": "Synthetic-only checkpoint: it knows nothing about real emotions"}


def source_line(result: Result) -> str:
    """Which file and which checkpoint (with its revision) a result comes from."""
    checkpoint = result["checkpoint"]
    revision = f" @ `{str(checkpoint['revision'])[:12]}`" if checkpoint.get("revision") else ""
    return f"`{Path(str(result['video']['path'])).name}` · checkpoint `{checkpoint['id']}`{revision}"


def prediction_markdown(result: Result) -> str:
    """Where the result comes from, the prediction, its confidence and what was erased, in one short
    block; for an untrained or synthetic-only checkpoint, a warning as large as the prediction above
    it, and the prediction marked as a demonstration."""
    erased = [s for s in result["segments"] if s["erased_round"] is not None]
    seconds = sum(s["end"] - s["start"] for s in erased)
    rule = RULE_TITLES[result.get("keyframe_rule", "eq9")].replace("*", r"\*")  # A*: no Markdown emphasis
    demonstration = DEMONSTRATION.get(result.get("training", ""))
    answer = f"{result['prediction']} · {result['confidence']:.1%}"
    lines = [
        source_line(result),
        *([f"## ⚠️ {demonstration}", f"## demonstration: {answer}"] if demonstration else [f"## {answer}"]),
        f"θ = {result['theta']:.2f}, {result['rounds']} erasing round{'s' if result['rounds'] != 1 else ''}: "
        f"{len(erased)} of {len(result['segments'])} segments erased ({seconds:.1f} s of "
        f"{result['video']['duration']:.1f} s), {len(result['detections'])} detection"
        f"{'s' if len(result['detections']) != 1 else ''} ({rule}).",
    ]
    return "\n\n".join(lines)


def notices_markdown(result: Result) -> str:
    """The result's notices (no audio or no audio model, no face, the checkpoint's provenance) as a quote block."""
    return "\n".join(f"> ⚠️ {n}\n" for n in result.get("notices", []))
