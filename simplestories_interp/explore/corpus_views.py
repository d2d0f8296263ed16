"""What each component does over the corpus, for the explorer's component pages: computed on first
use, kept in memory, and cached on disk.

* a head: its statistics and class over the corpus (``analysis.heads``: offset histogram, far
  content, entity lift, top role), computed for all heads at once;
* an MLP neuron: its card (top and quantile contexts, histogram, direct logit effect,
  ``analysis.cards``) and role with precision and base rate, from a scan of its layer;
* an SAE latent: its card and its best role match (precision, recall, F1, ``sae.features``);
* the mean of each component over the corpus's tokens, for mean-ablation.

Pages are JSON files under ``CACHE/explore/KEY/`` where KEY hashes the model's weights, the SAEs,
the story source and the number of stories, so a second start (or another tab) reads them back.
Scans show a progress bar in the terminal.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from transformer_lens import HookedTransformer

from simplestories_interp.analysis.activations import model_fingerprint
from simplestories_interp.analysis.cards import unit_card
from simplestories_interp.analysis.heads import as_records, head_statistics
from simplestories_interp.analysis.hooks import run_hooks, stop_layer
from simplestories_interp.analysis.neurons import explain, scan
from simplestories_interp.data.rows import Rows, build_rows
from simplestories_interp.explore.components import Component, SAEHandle, hook_of
from simplestories_interp.files import atomic_write_text
from simplestories_interp.render.views import render_card
from simplestories_interp.sae.features import feature_activations, feature_logit_effect, feature_topk, match_roles


class CorpusViews:
    """The corpus side of the component pages (see the module docstring)."""

    def __init__(self, model: HookedTransformer, saes: list[SAEHandle], data: str, n_stories: int, cache: Path):
        self.model, self.saes, self.data, self.n_stories = model, saes, data, n_stories
        key = json.dumps([model_fingerprint(model), [h.name for h in saes], data, n_stories])
        self.folder = Path(cache) / "explore" / hashlib.sha256(key.encode()).hexdigest()[:16]
        self._rows: Rows | None = None
        self._scans: dict[str, tuple] = {}
        self._means: dict[str, torch.Tensor] = {}

    @property
    def rows(self) -> Rows:
        if self._rows is None:
            self._rows = build_rows(self.data, self.model.tokenizer, self.model.cfg.n_ctx, self.n_stories, pad=True)
        return self._rows

    def page(self, comp: Component) -> dict:
        """The component's page over the corpus (from the disk cache when there)."""
        file = self.folder / f"{comp.id}.json"
        if file.is_file():
            return json.loads(file.read_text())
        page = {"id": comp.id, "kind": comp.kind, "data": self.rows.describe(), **self._measure(comp)}
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(file, json.dumps(page))
        return page

    def _measure(self, comp: Component) -> dict:
        if comp.kind == "head":
            return {"stats": self._heads()[f"L{comp.layer}H{comp.index}"]}
        top, roles = self._scan(comp)
        if comp.kind == "neuron":
            explanation = roles[comp.index]
            card = unit_card(top, comp.index, model=self.model, explanation=explanation, title=comp.id)
            return {"role": explanation.describe(), "card": render_card(card)}
        handle, match = self.saes[comp.layer], roles[comp.index]
        role = (f"best role {match.role}: precision {match.precision:.2f}, recall {match.recall:.2f}, F1 {match.f1:.2f}"
                f", frequency {match.frequency:.3f}")
        card = unit_card(top, comp.index, logits=feature_logit_effect(self.model, handle.sae, comp.index),
                         title=f"{comp.id}: feature {comp.index} of {handle.name}")
        return {"role": role, "card": render_card(card)}

    def _heads(self) -> dict[str, dict]:
        file = self.folder / "heads.json"
        if not file.is_file():
            stats = head_statistics(self.model, self.rows, progress=True)
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_text(file, json.dumps({f"L{r['layer']}H{r['head']}": r for r in as_records(stats)}))
        return json.loads(file.read_text())

    def _scan(self, comp: Component):
        """(top-k of the component's layer or SAE, its roles per unit), once per layer or SAE."""
        key = hook_of(comp, self.saes) + (f"#{comp.layer}" if comp.kind == "latent" else "")
        if key not in self._scans:
            if comp.kind == "neuron":
                top = scan(self.model, key, rows=self.rows, k=20, progress=True)
                self._scans[key] = (top, explain(top))
            else:
                handle = self.saes[comp.layer]
                top = feature_topk(self.model, handle.sae, handle.hook, self.rows, progress=True)
                self._scans[key] = (top, match_roles(feature_activations(self.model, handle.sae, handle.hook,
                                                                         self.rows), self.rows))
        return self._scans[key]

    @torch.no_grad()
    def means(self, comps: list[Component]) -> dict[str, torch.Tensor]:
        """Each component's mean over the corpus's tokens (padding excluded): what mean-ablation sets."""
        hooks = sorted({hook_of(c, self.saes) for c in comps} - set(self._means))
        if hooks:
            self._means.update(self._hook_means(hooks))
        out = {}
        for c in comps:
            mean = self._means[hook_of(c, self.saes)]
            out[c.id] = mean["latents"][c.layer][c.index:c.index + 1] if c.kind == "latent" else mean["mean"][c.index]
        return out

    def _hook_means(self, hooks: list[str], batch: int = 8) -> dict[str, dict]:
        rows, device = self.rows, next(self.model.parameters()).device
        sums: dict[str, dict] = {h: {"mean": 0.0, "latents": {}} for h in hooks}
        inside = torch.from_numpy(rows.in_story)
        for start in range(0, len(rows.tokens), batch):
            tokens = torch.from_numpy(rows.tokens[start:start + batch]).to(device)
            acts = run_hooks(self.model, tokens, hooks, stop_layer(self.model, hooks))
            keep = inside[start:start + batch].flatten().to(device)
            for hook in hooks:
                x = acts[hook][keep].float()
                sums[hook]["mean"] = sums[hook]["mean"] + x.sum(0).cpu()
                for s, handle in enumerate(self.saes):
                    if handle.hook == hook:
                        latents = sums[hook]["latents"]
                        latents[s] = latents.get(s, 0.0) + handle.sae.encode(x).sum(0).cpu()
        n = max(int(inside.sum()), 1)
        for hook, total in sums.items():
            total["mean"] = total["mean"] / n
            if hook.endswith("attn.hook_z"):  # run_hooks flattens heads: [n_heads * d_head]
                total["mean"] = total["mean"].view(self.model.cfg.n_heads, -1)
            total["latents"] = {s: v / n for s, v in total["latents"].items()}
        return sums
