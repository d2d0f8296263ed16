"""Reproduce the TinyStories paper's interpretability figures (Eldan & Li 2023, Sec. 5).

* Fig. 19: positional (distance-based) heads of a 1-layer model, each at its own offset, on a
  paragraph with two named characters looking for an object and going to a place;
* Fig. 20: semantic heads of the same model on the same paragraph;
* Fig. 21: top-activating tokens of neurons 0 and 1 of the penultimate layer, neuron 0 of the
  layer before, and the single highest-activating neuron, over ~8k tokens of stories, with
  the annotated role that explains each (our addition: ground truth from the corpus).

Offline it runs on the shipped models; any loadable model can be passed, including the
paper's own (``roneneldan/TinyStories-1Layer-21M``, ``roneneldan/TinyStories-1M``) when online.
Output: ``index.html`` linking every figure, and ``summary.txt`` with the findings.
"""

from __future__ import annotations

import json
from pathlib import Path

from tqdm.auto import tqdm

from simplestories_interp.analysis.heads import HeadStats, as_records, head_statistics
from simplestories_interp.analysis.neurons import explain, role_summary, scan
from simplestories_interp.data.rows import build_rows
from simplestories_interp.files import ensure_writable
from simplestories_interp.report import views
from simplestories_interp.report.config import FigureConfig
from simplestories_interp.zoo.loading import load_model


def _head_figures(cfg: FigureConfig, out: Path) -> tuple[list[HeadStats], list[str]]:
    model = load_model(cfg.head_model, device=cfg.device)
    n_ctx = min(model.cfg.n_ctx, 512)
    rows = build_rows(cfg.data, model.tokenizer, n_ctx, cfg.head_stories)
    stats = head_statistics(model, rows, progress=True)
    records = as_records(stats)
    (out / "heads.json").write_text(json.dumps(records, indent=1))
    views.write(out / "heads_heatmap.html", views.page(
        f"Head classes of {cfg.head_model}", views.heads_heatmap(records, model.cfg.n_layers, model.cfg.n_heads)
        + _heads_table(stats)))
    layer0 = [s for s in stats if s.layer == 0] or stats
    positional = sorted((s for s in layer0 if s.head_class == "positional"), key=lambda s: -(s.offset or 0))
    semantic = sorted((s for s in layer0 if s.head_class in ("semantic", "mixed")),
                      key=lambda s: -s.far_content)[:3]
    notes = []
    closest = sorted(layer0, key=lambda s: -max(s.positional_share, max(s.offset_attention[1:])))[:3]
    for name, heads, title in (("fig19_positional_heads.html", positional, "Fig. 19 — positional heads"),
                               ("fig20_semantic_heads.html", semantic, "Fig. 20 — semantic heads")):
        intro = f"<p>Model {cfg.head_model}. Hover over a token to see where it attends.</p>"
        if not heads and name.startswith("fig19"):
            intro += ("<p><b>No head of this model meets the positional criteria</b> (docs/heads.md); "
                      "shown instead: the three heads closest to them.</p>")
            heads = closest
        if not heads:
            views.write(out / name, views.page(title, "<p>No such head found in this model.</p>"))
            continue
        desc = "".join(f"<li>L{s.layer}H{s.head} ({s.head_class}): {_describe(s)}</li>" for s in heads)
        body = intro + f"<ul>{desc}</ul>" + views.attention_view(model, cfg.text, [(s.layer, s.head) for s in heads])
        views.write(out / name, views.page(title, body))
    offsets = sorted({s.offset for s in positional})
    notes.append(f"Heads ({cfg.head_model}): {len(positional)} positional head(s) in layer 0 at offsets "
                 f"{offsets}; classes over all layers: " + _count(s.head_class for s in stats) + ".")
    for s in semantic:
        notes.append(f"  L{s.layer}H{s.head} ({s.head_class}): {_describe(s)}")
    return stats, notes


def _describe(s: HeadStats) -> str:
    if s.head_class == "positional":
        return f"attends to offset {s.offset} (argmax there {s.positional_share:.0%} of the time)"
    if s.head_class == "mixed" and s.far_content < 0.5:
        best = max(range(1, len(s.offset_attention)), key=lambda o: s.offset_attention[o])
        return (f"local: argmax on one offset {s.positional_share:.0%} of the time, mean attention "
                f"{s.offset_attention[best]:.2f} to offset -{best}, {s.far_content:.0%} beyond the window")
    role = f", favouring {s.top_role} tokens" if s.top_role else ""
    return (f"{s.far_content:.0%} of its attention goes beyond the local window to content tokens{role}; "
            f"entity lift {s.entity_lift:.1f}x, same-entity attention {s.same_entity:.2f}")


def _count(items) -> str:
    counts: dict[str, int] = {}
    for i in items:
        counts[i] = counts.get(i, 0) + 1
    return ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))


def _heads_table(stats: list[HeadStats]) -> str:
    columns = ("head", "class", "offset", "Voita share", "conf.", "first tok.", "entropy", "far content",
               "entity lift", "top role")
    head = "<tr>" + "".join(f"<th>{c}</th>" for c in columns) + "</tr>"
    rows = "".join(
        f"<tr><td>L{s.layer}H{s.head}</td><td>{s.head_class}</td><td>{s.offset if s.offset is not None else ''}</td>"
        f"<td>{s.positional_share:.2f}</td><td>{s.confidence:.2f}</td><td>{s.first_token:.2f}</td>"
        f"<td>{s.entropy:.2f}</td><td>{s.far_content:.2f}</td><td>{s.entity_lift:.1f}</td>"
        f"<td>{s.top_role or ''}</td></tr>"
        for s in stats)
    return f"<table class='logits'>{head}{rows}</table>"


def _neuron_figure(cfg: FigureConfig, out: Path) -> list[str]:
    model = load_model(cfg.neuron_model, device=cfg.device)
    n_layers = model.cfg.n_layers
    rows = build_rows(cfg.data, model.tokenizer, model.cfg.n_ctx, cfg.neuron_stories)
    tops = [scan(model, f"blocks.{layer}.mlp.hook_post", rows=rows, k=20)
            for layer in tqdm(range(n_layers), desc="neurons")]
    explanations = [explain(t) for t in tops]
    penult = max(0, n_layers - 2)
    other = max(0, penult - 1)
    best_layer = max(range(n_layers), key=lambda la: float(tops[la].max_per_unit.max()))
    best_unit = int(tops[best_layer].max_per_unit.argmax())
    picks = [(penult, 0, "neuron 0 of the penultimate layer"), (penult, 1, "neuron 1 of the penultimate layer"),
             (other, 0, "neuron 0 of another layer"), (best_layer, best_unit, "the highest-activating neuron")]
    sections, notes = [], [f"Neurons ({cfg.neuron_model}, {rows.tokens.size} tokens of {len(rows.stories)} stories):"]
    for layer, unit, why in picks:
        ex = explanations[layer][unit] if explanations[layer] else None
        sections.append(views.neuron_section(tops[layer], unit, model=model, explanation=ex,
                                             title=f"Layer {layer}, neuron {unit} — {why}"))
        role = (f"best role {ex.role} (precision {ex.precision:.2f}, base rate {ex.base_rate:.2f})"
                if ex and ex.role else "no annotated role")
        notes.append(f"  L{layer} N{unit} ({why}): {role}")
    views.write(out / "fig21_neurons.html", views.page(
        "Fig. 21 — top-activating tokens of MLP neurons",
        f"<p>Model {cfg.neuron_model}; {rows.tokens.size} tokens of {len(rows.stories)} stories. "
        "Each line is a top-activating token (highlighted) in its sentence.</p>" + "".join(sections)))
    # The role table: annotated roles on the synthetic corpus, lexical ones on any text.
    table = {f"blocks.{la}.mlp.hook_post": [vars(e) for e in explanations[la]] for la in range(n_layers)}
    (out / "neuron_roles.json").write_text(json.dumps(table, indent=1))
    for la in range(n_layers):
        s = role_summary(explanations[la])
        notes.append(f"  layer {la}: {s['with_role']}/{s['units']} neurons have a role with precision >= 0.8 "
                     f"{s['by_role']}")
    return notes


def tinystories_figures(cfg: FigureConfig) -> Path:
    """Write all figures, ``index.html`` and ``summary.txt`` into ``cfg.out``."""
    out = Path(cfg.out)
    ensure_writable(out)
    _, head_notes = _head_figures(cfg, out)
    neuron_notes = _neuron_figure(cfg, out)
    summary = "\n".join(head_notes + [""] + neuron_notes)
    (out / "summary.txt").write_text(summary + "\n")
    links = [("fig19_positional_heads.html", "Fig. 19 — positional (distance-based) heads"),
             ("fig20_semantic_heads.html", "Fig. 20 — semantic heads"),
             ("heads_heatmap.html", "All heads: classes and statistics"),
             ("fig21_neurons.html", "Fig. 21 — neurons and their roles"),
             ("summary.txt", "Summary (text)"), ("heads.json", "Head statistics (JSON)")]
    if (out / "neuron_roles.json").is_file():
        links.append(("neuron_roles.json", "Neuron → role table (JSON)"))
    body = "<ul>" + "".join(f"<li><a href='{f}'>{t}</a></li>" for f, t in links) + "</ul>"
    body += f"<h2>Findings</h2><pre class='summary'>{views.html.escape(summary)}</pre>"
    views.write(out / "index.html", views.page("TinyStories interpretability figures, reproduced", body))
    return out / "index.html"
