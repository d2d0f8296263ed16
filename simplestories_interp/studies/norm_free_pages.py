"""The pages of the norm-free study: index.html (offline plotly charts, tables) and summary.txt.

Kept apart from the measurements (:mod:`.norm_free`) so the pages can be rebuilt from a
``results.json`` alone: ``index_page(json.load(open("results.json")))``.
"""

from __future__ import annotations

import html

import numpy as np

from simplestories_interp.render import views
from simplestories_interp.render.views import fmt_or_na
from simplestories_interp.sae.config import sae_kind

KINDS = (("rms", "normalised"), ("none", "norm-free"))
COLOURS = {"rms": "#4c72b0", "none": "#dd8452"}
SAE_KEYS = (
    ("explained_variance", "explained variance"),
    ("ce_loss_score", "CE loss score"),
    ("dead_fraction", "dead share"),
    ("l0", "L0"),
    ("mean_f1", "mean best-role F1"),
    ("mean_precision", "mean best-role precision"),
    ("share_f1_above", "share of features with a role"),
)


def _fmt(v, digits: int = 3) -> str:
    return fmt_or_na(v, f".{digits}f")


def _diff(a, b, digits: int = 3) -> str:
    return f"{_fmt(a, digits)} vs {_fmt(b, digits)} (norm-free {float(b) - float(a):+.{digits}f})"


def _attribution_errors(results: dict, kind: str) -> list[float]:
    return [v["relative_error"] for v in results["attribution"][kind].values()]


def _neuron_share(layer: dict, basis: str, group: str) -> float:
    return layer[basis][group]["share_above"]


def _label_accuracy(results: dict, kind: str) -> list[float]:
    """Mean held-out accuracy over the story labels, per hook."""
    return [float(np.mean([p["accuracy"] for p in h["labels"].values()])) for h in results["probes"][kind].values()]


def _role_f1(results: dict, kind: str) -> list[float]:
    """Mean held-out F1 over the semantic roles, per hook."""
    semantic = results["probes"]["semantic_roles"]
    return [float(np.mean([h["roles"][r]["f1"] for r in semantic])) for h in results["probes"][kind].values()]


def _head_classes(records: list[dict]) -> str:
    counts: dict[str, int] = {}
    for r in records:
        counts[r["head_class"]] = counts.get(r["head_class"], 0) + 1
    return ", ".join(f"{n} {c}" for c, n in sorted(counts.items()))


def findings(results: dict) -> list[str]:
    """The measured answers, one sentence per measure."""
    m, loss = results["models"], results["loss"]
    rms_err, free_err = _attribution_errors(results, "rms"), _attribution_errors(results, "none")
    out = [
        f"Models: {m['rms']} (val loss {_fmt(loss['rms'], 4)}) and {m['none']} ({_fmt(loss['none'], 4)}), "
        f"on the same {results['tokens']:,} held-out tokens.",
        f"Direct logit attribution: the frozen-scale approximation's error per component of the normalised model "
        f"is {min(rms_err):.1%} to {max(rms_err):.1%} of the component's actual effect (mean {np.mean(rms_err):.1%}); "
        f"in the norm-free model it is at most {max(free_err):.1e} (exact up to float rounding).",
    ]
    s = results["saes"]
    out.append(
        "SAEs at equal settings (normalised vs norm-free): "
        + "; ".join(f"{label} {_diff(s['rms'][key], s['none'][key])}" for key, label in SAE_KEYS)
        + "."
    )
    for group in ("semantic", "token"):
        out.append(
            f"Neurons with a {group} role (precision >= {results['neurons']['rms'][0]['threshold']}), share per "
            "layer, normalised vs norm-free: "
            + "; ".join(
                f"L{i} {_neuron_share(a, 'neurons', group):.2f} vs {_neuron_share(b, 'neurons', group):.2f} "
                f"(random basis {_neuron_share(a, 'random', group):.2f} vs {_neuron_share(b, 'random', group):.2f})"
                for i, (a, b) in enumerate(zip(results["neurons"]["rms"], results["neurons"]["none"], strict=True))
            )
            + "."
        )
    hooks = ", ".join(h.replace("blocks.", "L").replace(".hook_", " ") for h in results["probes"]["rms"])
    for name, fn in (
        ("story labels (mean accuracy over theme/topic/style/feature)", _label_accuracy),
        ("semantic word roles (mean F1)", _role_f1),
    ):
        a, b = fn(results, "rms"), fn(results, "none")
        out.append(
            f"Linear probes for {name}, per layer ({hooks}): "
            + "; ".join(f"{x:.3f} vs {y:.3f}" for x, y in zip(a, b, strict=True))
            + f" (mean difference norm-free {np.mean(b) - np.mean(a):+.3f})."
        )
    if results["heads"]:
        h = results["heads"]
        lift = {k: max(r["entity_lift"] or 0.0 for r in h[k]) for k in h}
        share = {k: max(r["positional_share"] for r in h[k]) for k in h}
        out.append(
            f"Heads of the 1-layer pair: {_head_classes(h['rms'])} (normalised) vs {_head_classes(h['none'])} "
            f"(norm-free); best entity lift {lift['rms']:.2f} vs {lift['none']:.2f}; best positional share "
            f"{share['rms']:.2f} vs {share['none']:.2f}."
        )
    return out


def summary_text(results: dict) -> str:
    cfg = results["config"]
    sae = cfg.get("sae") or cfg  # flat before the SAE settings were nested
    lines = [
        "Norm-free study",
        f"{results['models']['rms']} vs {results['models']['none']}, data {cfg['data']}, "
        f"SAEs at {sae['hook']}: {sae_kind(sae)} k={sae['k']}, x{sae['expansion']}, {sae['tokens']:,} tokens each",
        "",
    ]
    lines += [f"- {f}" for f in findings(results)]
    return "\n".join(lines) + "\n"


def _attribution_figure(results: dict):
    import plotly.graph_objects as go

    fig = go.Figure()
    for kind, label in KINDS:
        errors = results["attribution"][kind]
        fig.add_trace(
            go.Bar(
                x=[n.replace(".hook_", " ") for n in errors],
                y=[v["relative_error"] for v in errors.values()],
                name=f"{label} ({html.escape(results['models'][kind])})",
                marker_color=COLOURS[kind],
            )
        )
    fig.update_layout(
        title="Frozen-scale attribution error per component",
        yaxis_title="|approx - actual| / |actual|",
        yaxis_tickformat=".0%",
        barmode="group",
        height=360,
    )
    return fig


def _per_layer_figure(results: dict):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    hooks = [h.replace(".hook_", " ") for h in results["probes"]["rms"]]
    layers = [f"L{i}" for i in range(len(results["neurons"]["rms"]))]
    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=[
            "neurons with a semantic role (share)",
            "probe: story labels (accuracy)",
            "probe: semantic roles (F1)",
        ],
    )
    for kind, label in KINDS:
        style = {"legendgroup": kind, "marker_color": COLOURS[kind], "line": {"color": COLOURS[kind]}}
        fig.add_trace(
            go.Scatter(
                x=layers,
                y=[_neuron_share(n, "neurons", "semantic") for n in results["neurons"][kind]],
                name=label,
                mode="lines+markers",
                **style,
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=layers,
                y=[_neuron_share(n, "random", "semantic") for n in results["neurons"][kind]],
                name=f"{label}, random basis",
                mode="lines+markers",
                line={"color": COLOURS[kind], "dash": "dot"},
                legendgroup=kind,
                marker_color=COLOURS[kind],
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(x=hooks, y=_label_accuracy(results, kind), mode="lines+markers", showlegend=False, **style),
            row=1,
            col=2,
        )
        fig.add_trace(
            go.Scatter(x=hooks, y=_role_f1(results, kind), mode="lines+markers", showlegend=False, **style),
            row=1,
            col=3,
        )
    fig.update_layout(title="Per layer: neurons and linear probes", height=380)
    return fig


def _sae_table(results: dict) -> str:
    rows = "".join(
        f"<tr><td>{label}</td>" + "".join(f"<td>{_fmt(results['saes'][k][key])}</td>" for k, _ in KINDS) + "</tr>"
        for key, label in SAE_KEYS
    )
    return f"<table class='logits'><tr><th></th><th>normalised</th><th>norm-free</th></tr>{rows}</table>"


def _heads_table(results: dict) -> str:
    if not results["heads"]:
        return "<p>Skipped (--head-model none).</p>"
    cells = "".join(
        f"<tr><td>{a['head']}</td>"
        + "".join(
            f"<td>{html.escape(r['head_class'])}</td><td>{r['positional_share']:.2f}</td>"
            f"<td>{fmt_or_na(r['entity_lift'], '.2f')}</td>"
            f"<td>{r['entropy']:.2f}</td>"
            for r in (a, b)
        )
        + "</tr>"
        for a, b in zip(results["heads"]["rms"], results["heads"]["none"], strict=True)
    )
    cols = "<th>class</th><th>positional share</th><th>entity lift</th><th>entropy</th>"
    return (
        f"<table class='logits'><tr><th></th><th colspan=4>normalised</th><th colspan=4>norm-free</th></tr>"
        f"<tr><th>head</th>{cols}{cols}</tr>{cells}</table>"
    )


READ = {
    "attribution": "Each bar: how far the usual attribution (component divided by the final norm's scale, frozen) is "
    "from the component's actual direct effect on the correct next token's logit. Zero means exact.",
    "sae": "Two SAEs with the same hook, k, expansion, tokens and seed, one per model. Role F1/precision: each "
    "feature's best match with the annotated word roles on held-out stories.",
    "layers": "Left: share of units whose top-20 tokens are >= 80% one semantic role (solid: neurons, dotted: a random "
    "rotation of the same layer). Middle and right: held-out linear probes from each layer's residual stream.",
    "heads": "The 1-layer pair's heads, same classifier and thresholds as the head figures.",
}


def index_page(results: dict) -> str:
    figs = [_attribution_figure(results), _per_layer_figure(results)]
    charts = [f.to_html(full_html=False, include_plotlyjs=i == 0) for i, f in enumerate(figs)]
    finding = "".join(f"<li>{html.escape(f)}</li>" for f in findings(results))
    body = (
        f"<p class='meta'>Does removing normalisation make interpretability easier? "
        f"{html.escape(results['models']['rms'])} against its norm-free twin on the same tokens. "
        f"Every number: results.json.</p><ul>{finding}</ul>"
        f"<h2>Direct logit attribution</h2><p class='meta'>{READ['attribution']}</p>{charts[0]}"
        f"<h2>SAEs at equal settings</h2><p class='meta'>{READ['sae']}</p>{_sae_table(results)}"
        f"<h2>Neurons and probes by layer</h2><p class='meta'>{READ['layers']}</p>{charts[1]}"
        f"<h2>Heads (1-layer pair)</h2><p class='meta'>{READ['heads']}</p>{_heads_table(results)}"
    )
    return views.page("Norm-free study", body)
