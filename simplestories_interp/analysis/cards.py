"""A unit's card: everything its view shows, as JSON-able data, and its plain-text view.

A unit is an MLP neuron, an SAE feature or any direction scanned by :func:`.neurons.scan`. The
card holds its top and quantile examples in their context, its activation histogram, its role and
its direct logit effect, so a study stores cards in ``results.json`` and its pages (drawn by
``render.views.render_card``) rebuild with no model and no corpus. The text view serves terminals
and notebooks.
"""

from __future__ import annotations

import torch

from simplestories_interp.analysis.hooks import layer_of
from simplestories_interp.analysis.neurons import Explanation, TopK, logit_effect, quantile_examples


def _entry(top: TopK, value: float, flat: int) -> list:
    """[activation, short context before, token, after, long context before, after] of one example."""
    row, pos = top.where(flat)
    before, token, after = top.rows.context(row, pos, before=14, after=6)
    long_before, _, long_after = top.rows.context(row, pos, before=80, after=30)
    return [value, before, token, after, long_before, long_after]


def histogram_counts(values: torch.Tensor, bins: int = 40) -> dict:
    """``values`` binned: the range and the count per bin (what :func:`histogram_svg` draws)."""
    values = values.float()
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        hi = lo + 1e-6
    counts = torch.histc(values, bins=bins, min=lo, max=hi)
    return {"n": len(values), "lo": lo, "hi": hi, "counts": counts.tolist()}


def _mlp_layer(hook: str) -> int | None:
    return layer_of(hook) if hook.endswith("mlp.hook_post") else None


def unit_card(top: TopK, unit: int, *, model=None, explanation: Explanation | None = None,
              n_top: int = 10, n_quantiles: int = 6, title: str | None = None,
              logits: tuple[list, list] | None = None, note: str = "") -> dict:
    """Everything a unit's section shows, as JSON-able data: top and quantile examples in their
    context, the histogram, and the direct logit effect (computed for MLP neurons when ``model`` is
    given, or passed as ``logits`` for e.g. SAE features). A study stores cards in its results, so
    its pages rebuild without the model or the corpus."""
    layer = _mlp_layer(top.hook)
    if logits is None and model is not None and layer is not None:
        logits = logit_effect(model, layer, unit)
    return {"unit": unit, "title": title or f"{top.hook} — unit {unit}", "max": float(top.max_per_unit[unit]),
            "role": explanation.describe(len(top.values[unit])) if explanation is not None else None,
            "role_name": explanation.role if explanation is not None else None,
            "top": [_entry(top, float(v), int(i)) for v, i in zip(top.values[unit][:n_top], top.index[unit][:n_top],
                                                                  strict=True)],
            "quantiles": [_entry(top, v, i) for v, i in reversed(quantile_examples(top, unit, n_quantiles))],
            "histogram": histogram_counts(top.sample_values[:, unit]),
            "logits": [list(map(list, side)) for side in logits] if logits is not None else None, "note": note}


def neuron_text(top: TopK, unit: int, *, n_top: int = 8, explanation: Explanation | None = None) -> str:
    """Plain-text view of one unit: the top activations with the token in [[brackets]]."""
    lines = [f"{top.hook} unit {unit}: max {float(top.max_per_unit[unit]):.3f}"]
    if explanation is not None:
        lines[0] += f", {explanation.describe()}"
    for v, i in zip(top.values[unit][:n_top], top.index[unit][:n_top], strict=True):
        row, pos = top.where(int(i))
        before, token, after = top.rows.context(row, pos, before=10, after=4)
        lines.append(f"  {float(v):7.3f}  {before}[[{token}]]{after}".replace("\n", " "))
    return "\n".join(lines)
