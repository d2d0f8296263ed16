"""The pages of the context-length study: index.html (offline plotly charts) and summary.txt.

Kept apart from the measurements (:mod:`.context_length`) so the pages can be rebuilt from a
``results.json`` alone: ``index_page(json.load(open("results.json")))``.
"""

from __future__ import annotations

import html

import numpy as np

from simplestories_interp.render import views
from simplestories_interp.render.views import fmt_or_na
from simplestories_interp.sae.config import sae_kind

SMOOTH = 8  # positions averaged per point of the loss curve (a single position is noisy)
SAE_PANELS = (("explained_variance", "explained variance"), ("ce_loss_score", "CE loss score"),
              ("kl_sae", "KL (clean || spliced)"), ("dead_fraction", "share of features silent"))


def _fmt(v, digits: int = 3) -> str:
    return fmt_or_na(v, f".{digits}f")


def _bucket(results: dict, name: str, i: int) -> float | None:
    return results["loss"][name]["by_bucket"][i]


def _metric(results: dict, window, i: int, key: str):
    return results["sae_metrics"][str(window)][i].get(key)


def findings(results: dict) -> list[str]:
    """The measured answers, one sentence each."""
    models, buckets, last = list(results["loss"]), results["buckets"], len(results["buckets"]) - 1
    out = ["Loss by position bucket (" + ", ".join(buckets) + "): " + "; ".join(
        f"{m} (n_ctx {results['loss'][m]['n_ctx']}) " + " / ".join(_fmt(v) for v in results["loss"][m]["by_bucket"])
        for m in models) + "."]
    far = [(m, results["loss"][m]["mentions"][-1]) for m in models if results["loss"][m]["mentions"]]
    if far:  # annotated text only
        out.append(f"Loss on later mentions {far[0][1]['distance']} tokens after the first mention "
                   f"({far[0][1]['mentions']} mentions): " + ", ".join(f"{m} {_fmt(d['loss'])}" for m, d in far) + ".")
    windows = results["sae_windows"]
    longest = windows[-1]
    for w in windows[:-1]:
        out.append(f"SAE trained on {w}-token windows, at positions {buckets[last]}: explained variance "
                   f"{_fmt(_metric(results, w, last, 'explained_variance'))} and CE loss score "
                   f"{_fmt(_metric(results, w, last, 'ce_loss_score'))} (at positions {buckets[0]}: "
                   f"{_fmt(_metric(results, w, 0, 'explained_variance'))} and "
                   f"{_fmt(_metric(results, w, 0, 'ce_loss_score'))}), against "
                   f"{_fmt(_metric(results, longest, last, 'explained_variance'))} and "
                   f"{_fmt(_metric(results, longest, last, 'ce_loss_score'))} for the {longest}-window SAE.")
    cfg = results["config"]
    out.append(f"Features unique to longer prompts: {results['late_feature_count']} of the {longest}-window SAE's "
               f"{results['alive_features']} active features put at least {cfg['late_share']:.0%} of their "
               f"activation per token beyond position {cfg['boundary']}.")
    for w in windows[:-1]:
        late, every = results["counterpart_share_late"][str(w)], results["counterpart_share_all"][str(w)]
        out.append(f"Counterpart in the {w}-window SAE (decoder cosine >= {cfg['counterpart_cosine']}): "
                   f"{_fmt(late, 2)} of the late features, {_fmt(every, 2)} of all active features.")
    return out


def _sae(results: dict) -> dict:
    """The SAEs' settings (flat in the config before they were nested)."""
    return results["config"].get("sae") or results["config"]


def summary_text(results: dict) -> str:
    sae = _sae(results)
    lines = ["Context-length study", f"model {results['config']['model']} (n_ctx {results['n_ctx']}), "
             f"hook {sae['hook']}, SAEs: {sae_kind(sae)} k={sae['k']}, {sae['tokens']:,} tokens each", ""]
    lines += [f"- {f}" for f in findings(results)]
    lines += ["", "late features (feature, late share, role, precision, best decoder cosine per shorter window):"]
    for f in results["late_features"][:20]:
        lines.append(f"  {f['feature']:5d}  {f['late_share']:.2f}  {f.get('role')}  {f.get('precision', 0):.2f}  "
                     + " ".join(f"{w}:{c:.2f}" for w, c in f.get("counterparts", {}).items()))
    return "\n".join(lines) + "\n"


def _smooth(curve: list[float]) -> tuple[list[int], list[float]]:
    n = len(curve) // SMOOTH * SMOOTH
    values = np.asarray(curve[:n]).reshape(-1, SMOOTH).mean(1)
    return [i * SMOOTH + SMOOTH // 2 for i in range(len(values))], values.tolist()


def _loss_figure(results: dict):
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, r in results["loss"].items():
        x, y = _smooth(r["curve"])
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=html.escape(f"{name} (n_ctx {r['n_ctx']})")))
    fig.update_layout(title="Loss by position in long stories", xaxis_title="position", yaxis_title="loss (nats)",
                      height=380)
    return fig


def _mention_figure(results: dict):
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, r in results["loss"].items():
        fig.add_trace(go.Bar(x=[d["distance"] for d in r["mentions"]], y=[d["loss"] for d in r["mentions"]],
                             name=html.escape(name)))
    fig.update_layout(title="Loss on later mentions, by distance to the first mention",
                      xaxis_title="distance (tokens)", yaxis_title="loss (nats)", height=360, barmode="group")
    return fig


def _sae_figure(results: dict):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=len(SAE_PANELS), subplot_titles=[t for _, t in SAE_PANELS])
    for i, w in enumerate(results["sae_windows"]):
        for col, (key, _) in enumerate(SAE_PANELS, 1):
            fig.add_trace(go.Scatter(x=results["buckets"], y=[m.get(key) for m in results["sae_metrics"][str(w)]],
                                     mode="lines+markers", name=f"SAE on {w}-token windows", legendgroup=str(w),
                                     showlegend=col == 1, line={"color": f"hsl({40 + 110 * i},65%,45%)"}),
                          row=1, col=col)
    fig.update_layout(title="SAEs evaluated on full rows, by position", height=380)
    fig.update_xaxes(title_text="positions")
    return fig


def _late_table(results: dict) -> str:
    rows = "".join(
        f"<tr><td>{f['feature']}</td><td>{f['late_share']:.2f}</td><td>{f['early_density']:.4f}</td>"
        f"<td>{f['late_density']:.4f}</td><td>{html.escape(str(f.get('role')))}</td>"
        f"<td>{f.get('precision', 0):.2f}</td>"
        + "".join(f"<td>{c:.2f}</td>" for c in f.get("counterparts", {}).values()) + "</tr>"
        for f in results["late_features"][:20])
    heads = "".join(f"<th>cosine, {w}-window</th>" for w in results["sae_windows"][:-1])
    return (f"<table class='logits'><tr><th>feature</th><th>late share</th><th>density before</th>"
            f"<th>density after</th><th>best role</th><th>precision</th>{heads}</tr>{rows}</table>")


READ = {
    "loss": "Each line is one model on the same held-out long stories; the short-context models see at most "
            "their n_ctx tokens back (sliding window). Where the lines part, the longer context pays.",
    "mentions": "Predicting a name, object or place mentioned before: grouped by how far back the first mention "
                "is. A model whose context is shorter than the distance cannot see it.",
    "sae": "Every SAE reads the same full-length rows of the full-context model; each point is one bucket of "
           "positions. A short-window SAE used beyond its window is judged where it was never trained.",
    "late": "Features of the longest-window SAE that are nearly silent early in the context; the cosine columns "
            "say whether a shorter-window SAE learned the same direction.",
}


def index_page(results: dict) -> str:
    figs = [_loss_figure(results), _mention_figure(results), _sae_figure(results)]
    charts = [f.to_html(full_html=False, include_plotlyjs=i == 0) for i, f in enumerate(figs)]
    finding = "".join(f"<li>{html.escape(f)}</li>" for f in findings(results))
    body = (f"<p class='meta'>What features are unique to longer prompts, and how much do SAEs trained on "
            f"shorter contexts miss? Model {html.escape(results['config']['model'])}, hook "
            f"{html.escape(_sae(results)['hook'])}. Every number: results.json.</p><ul>{finding}</ul>"
            f"<h2>Loss by position</h2><p class='meta'>{READ['loss']}</p>{charts[0]}"
            f"<p class='meta'>{READ['mentions']}</p>{charts[1]}"
            f"<h2>What short-context SAEs miss</h2><p class='meta'>{READ['sae']}</p>{charts[2]}"
            f"<h2>Features unique to longer prompts</h2><p class='meta'>{READ['late']} Top contexts: "
            f"<a href='late_features.html'>late_features.html</a>.</p>{_late_table(results)}")
    return views.page("Context-length study", body)
