"""What the Video tab shows of `wecl.faithfulness`: the deletion and insertion curves, their AUC
table, a reading guide, and the probabilities of a video with segments the user took away."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.plots import AUDIO_COLOR, DETECTION_COLOR, VISUAL_COLOR

ORDER_COLORS = {"attention: fused": "#111827", "attention: visual": VISUAL_COLOR, "attention: audio": AUDIO_COLOR,
                "leave-one-out": DETECTION_COLOR, "chronological": "#9ca3af"}
GUIDE = ("**Reading the curves.** Deletion takes the segments away in the order named (most attended "
         "first), insertion gives them back in that order, and each point is the probability of the "
         "unperturbed prediction. An order that matters to the model falls faster than random under "
         "deletion (lower area) and rises faster under insertion (higher area). These are ranking "
         "figures on perturbed videos: `remove` is the perturbation WECL was trained on (the rest "
         "resampled to T, as erasing does), while `mean` and `zeros` make videos the model never saw, "
         "which may move the prediction for reasons of their own. A good curve shows that the order "
         "matters, not why.")


def curves_figure(out: dict) -> go.Figure:
    """Deletion and insertion curves side by side, random orders as their mean and 5-95 % band."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=["deletion (lower is better)", "insertion (higher is better)"],
                        horizontal_spacing=0.1)
    t = len(out["leave_one_out"])
    steps = list(range(t + 1))
    for col, kind in enumerate(("deletion", "insertion"), start=1):
        random = out["orders"].get("random")
        if random:
            low, high = random[f"{kind}_band"]
            fig.add_trace(go.Scatter(x=steps + steps[::-1], y=list(high) + list(low)[::-1], fill="toself",
                                     fillcolor="rgba(156,163,175,0.25)", line=dict(width=0), hoverinfo="skip",
                                     name="random: 5-95 %", legendgroup="random", showlegend=col == 1), row=1, col=col)
            fig.add_trace(go.Scatter(x=steps, y=random[kind], line=dict(color="#6b7280", dash="dot"),
                                     name=f"random (mean of {random['n']})", legendgroup="random",
                                     showlegend=col == 1), row=1, col=col)
        for name, order in out["orders"].items():
            if name == "random":
                continue
            fig.add_trace(go.Scatter(x=steps, y=order[kind], mode="lines+markers", name=name, legendgroup=name,
                                     line=dict(color=ORDER_COLORS.get(name)), showlegend=col == 1,
                                     hovertemplate=f"{name}: %{{x}} segments {'removed' if kind == 'deletion' else 'kept'}"
                                                   f"<br>p = %{{y:.3f}}<extra></extra>"), row=1, col=col)
        fig.update_xaxes(title_text="segments removed" if kind == "deletion" else "segments restored", row=1, col=col)
    fig.update_yaxes(title_text="P(predicted class)", range=[0, 1.02], row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_layout(template="plotly_white", height=380, margin=dict(l=60, r=20, t=50, b=40),
                      title=dict(text=f"perturbation: {out['perturbation']}", x=0.01, font=dict(size=12)),
                      legend=dict(orientation="h", x=0, y=-0.2, xanchor="left", yanchor="top", font=dict(size=11)))
    return fig


def auc_table(out: dict) -> pd.DataFrame:
    rows = [[name, round(o["deletion_auc"], 4), round(o["insertion_auc"], 4)] for name, o in out["orders"].items()]
    return pd.DataFrame(rows, columns=["order", "deletion AUC (lower is better)", "insertion AUC (higher is better)"])


def summary_markdown(out: dict) -> str:
    """τ, the gaps to random, the hit, comprehensiveness and sufficiency, and the reading guide."""
    lines = []
    tau = out.get("kendall_tau")
    if "kendall_tau" in out:
        lines.append("Kendall's τ between the attention and leave-one-out: "
                     + ("— (one of them is constant)" if tau is None else f"**{tau:+.2f}**"))
    if "deletion_gap_to_random" in out:
        lines.append(f"Attention's AUC minus random's: deletion {-out['deletion_gap_to_random']:+.3f} (below zero: "
                     f"better than random), insertion {out['insertion_gap_to_random']:+.3f} (above zero: better).")
    if out.get("hit") is not None:
        lines.append("The most attended segment " + ("lies" if out["hit"] else "does not lie") + " in ground-truth time.")
    if "comprehensiveness" in out:
        lines.append(f"Removing the eq. 9 keyframes alone loses {out['comprehensiveness']:.0%} of p(prediction) "
                     f"(comprehensiveness); the keyframes alone keep {out['sufficiency']:.0%} of it (sufficiency).")
    return "\n\n".join(lines + [GUIDE])


def erased_probabilities_figure(classes: list[str], original, erased, removed: list[int]) -> go.Figure:
    """Each class's probability for the whole video and with the `removed` segments taken away."""
    label = "without segments " + ", ".join(map(str, removed))
    fig = go.Figure([
        go.Bar(y=classes, x=[float(p) for p in original], orientation="h", name="whole video", marker_color="#cbd5e1",
               text=[f"{float(p):.1%}" for p in original], textposition="outside", cliponaxis=False),
        go.Bar(y=classes, x=[float(p) for p in erased], orientation="h", name=label, marker_color=VISUAL_COLOR,
               text=[f"{float(p):.1%}" for p in erased], textposition="outside", cliponaxis=False),
    ])
    fig.update_layout(template="plotly_white", barmode="group", height=120 + 44 * len(classes),
                      margin=dict(l=90, r=50, t=30, b=30), yaxis=dict(autorange="reversed"),
                      xaxis=dict(range=[0, 1.15], tickformat=".0%"),
                      legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom"))
    return fig
