"""What the explorer answers, without HTTP: predictions, why a token, a component's page, with ablations.

:class:`Explorer` holds one loaded model (and any SAEs) and answers in JSON-able dicts, so the
server (:mod:`.server`) only parses requests and the tests call it directly. Every input from
the page is checked here and refused with the library's typed errors (the server turns them into
a 4xx and a message): an empty prompt, an unknown token, a position or component out of range.
A prompt longer than the model's context is cut to it, with a notice. The model runs under a lock,
so several tabs at once each get their own consistent answer. What needs the corpus (the
components' top contexts and roles, head statistics, the means of mean-ablation) is computed on
first use and cached on disk (:mod:`.corpus_views`).
"""

from __future__ import annotations

import difflib
import re
import threading

import torch
from transformer_lens import HookedTransformer

from simplestories_interp.analysis.neurons import token_strings
from simplestories_interp.analysis.patterns import text_tokens
from simplestories_interp.errors import InvalidArgumentError
from simplestories_interp.explore.components import (
    SAEHandle,
    ablation_hooks,
    attribution_method,
    contributions,
    parse_component,
    parse_components,
    unembed_direction,
)
from simplestories_interp.explore.corpus_views import CorpusViews

TOP_PREDICTIONS = 5


class Explorer:
    """One model (and its SAEs) behind the explorer's questions."""

    def __init__(self, model: HookedTransformer, saes: list[SAEHandle], views: CorpusViews, name: str, *,
                 default_mode: str = "zero"):
        self.model, self.saes, self.views, self.name, self.default_mode = model, saes, views, name, default_mode
        # Every model run and tokenizer call holds it: TransformerLens removes all hooks after a run, and
        # transformers sets truncation on the shared tokenizer for each call.
        self.lock = threading.RLock()
        self.vocab = token_strings(model.tokenizer, list(range(model.cfg.d_vocab)))
        self.ids: dict[str, int] = {}
        for i, t in enumerate(self.vocab):
            self.ids.setdefault(t, i)

    def info(self) -> dict:
        cfg = self.model.cfg
        return {"model": self.name, "n_layers": cfg.n_layers, "n_heads": cfg.n_heads, "d_mlp": cfg.d_mlp,
                "n_ctx": cfg.n_ctx, "d_vocab": cfg.d_vocab, "method": attribution_method(self.model),
                "ablation": self.default_mode,
                "saes": [{"id": f"S{i}", "name": h.name, "hook": h.hook, "d_sae": h.sae.cfg.d_sae}
                         for i, h in enumerate(self.saes)]}

    def encode(self, prompt: str) -> tuple[torch.Tensor, list[str], str | None]:
        """(tokens [1, pos] with BOS, the tokens as the text spells them, a notice if the prompt was cut)."""
        if not prompt or not prompt.strip():
            raise InvalidArgumentError("the prompt is empty: type some text to run the model on")
        with self.lock:  # transformers switches truncation on the shared tokenizer per call
            tokens = self.model.to_tokens(prompt, truncate=False)
            shown = text_tokens(self.model, prompt)
        n_ctx, notice = self.model.cfg.n_ctx, None
        if tokens.shape[1] > n_ctx:
            notice = f"the prompt has {tokens.shape[1]} tokens; cut to the model's context of {n_ctx}"
            tokens, shown = tokens[:, :n_ctx], shown[:n_ctx]
        return tokens.to(next(self.model.parameters()).device), shown, notice

    def token_id(self, text: str) -> int:
        """A vocabulary entry by its text (``ball``, `` ball`` for byte-level BPE) or ``#ID``."""
        if text in self.ids:  # an exact vocabulary entry first (a vocabulary may hold "#1")
            return self.ids[text]
        number = re.fullmatch(r"#([0-9]{1,9})", text)
        if number:
            if int(number.group(1)) < self.model.cfg.d_vocab:
                return int(number.group(1))
            raise InvalidArgumentError(f"token id {text} is outside the vocabulary (0..{self.model.cfg.d_vocab - 1})")
        for candidate in (text.strip(), " " + text.strip()):
            if candidate in self.ids:
                return self.ids[candidate]
        close = difflib.get_close_matches(text, self.vocab, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise InvalidArgumentError(f"{text!r} is not a token of this model's vocabulary.{hint}")

    def _run(self, tokens: torch.Tensor, ablate: str, mode: str):
        comps = parse_components(ablate, self.model, self.saes)
        if mode not in ("zero", "mean"):
            raise InvalidArgumentError(f"ablation must be 'zero' or 'mean', got {mode!r}")
        names = {"ln_final.hook_scale", *(h.hook for h in self.saes)}
        names |= {f"blocks.{layer}.{part}" for layer in range(self.model.cfg.n_layers)
                  for part in ("attn.hook_z", "mlp.hook_post", "attn.hook_pattern")}
        with self.lock:
            means = self.views.means(comps) if comps and mode == "mean" else None
            with torch.no_grad(), self.model.hooks(fwd_hooks=ablation_hooks(comps, self.saes, means)):
                logits, cache = self.model.run_with_cache(tokens, names_filter=lambda n: n in names)
        return logits[0].float(), cache, [c.id for c in comps]

    def predict(self, prompt: str, ablate: str = "", mode: str = "zero") -> dict:
        """The tokens, the top predictions after each, and the loss on each next token."""
        tokens, shown, notice = self.encode(prompt)
        logits, _, ablated = self._run(tokens, ablate, mode)
        logprobs = logits.log_softmax(-1)
        top = logprobs.topk(TOP_PREDICTIONS, dim=-1)
        loss = -logprobs[:-1].gather(-1, tokens[0, 1:, None]).squeeze(-1)
        return {"tokens": shown, "ids": tokens[0].tolist(), "notice": notice, "ablated": ablated,
                "predictions": [[self._prediction(i, lp) for i, lp in zip(ix.tolist(), lps, strict=True)]
                                for ix, lps in zip(top.indices, top.values, strict=True)],
                "loss": [None] + [round(float(x), 4) for x in loss]}

    def _prediction(self, token: int, logprob) -> list:
        """[text, probability, how to ask for it]: its text, or ``#ID`` when another token reads the same."""
        text = self.vocab[token]
        return [text, round(float(logprob.exp()), 4), text if self.ids[text] == token else f"#{token}"]

    def attribute(self, prompt: str, pos: int, target: str, contrast: str = "", ablate: str = "",
                  mode: str = "zero", top: int = 40) -> dict:
        """Why ``target`` (rather than ``contrast``) after position ``pos``: every component's direct share."""
        tokens, shown, notice = self.encode(prompt)
        if not 0 <= pos < tokens.shape[1]:
            raise InvalidArgumentError(f"position {pos} is outside the prompt's {tokens.shape[1]} tokens "
                                       f"(0..{tokens.shape[1] - 1})")
        t, c = self.token_id(target), (self.token_id(contrast) if contrast else None)
        if c == t:
            raise InvalidArgumentError(f"the contrast {contrast!r} is the target itself: leave it empty, or name "
                                       "the token the model should have said instead")
        logits, cache, ablated = self._run(tokens, ablate, mode)
        rows = contributions(self.model, cache, pos, unembed_direction(self.model, t, c), self.saes)
        rows.sort(key=lambda r: -abs(r[1]))
        value = float(logits[pos, t] - (logits[pos, c] if c is not None else 0.0))
        return {"position": pos, "token": shown[pos], "target": self.vocab[t],
                "contrast": self.vocab[c] if c is not None else None, "logit": round(value, 4), "ablated": ablated,
                "notice": notice,
                "method": attribution_method(self.model),
                "rows": [{"id": i, "value": round(v, 4)} for i, v in rows[:top]]}

    def component(self, cid: str, prompt: str = "") -> dict:
        """A component's page: what it does over the corpus and, with a prompt, what it does on it."""
        comp = parse_component(cid, self.model, self.saes)
        with self.lock:  # a first visit scans the corpus with the model
            page = self.views.page(comp)
        if prompt:
            tokens, shown, _ = self.encode(prompt)
            _, cache, _ = self._run(tokens, "", "zero")
            page["prompt"] = {"tokens": shown, **self._on_prompt(comp, cache)}
        return page

    def _on_prompt(self, comp, cache) -> dict:
        if comp.kind == "head":
            pattern = cache[f"blocks.{comp.layer}.attn.hook_pattern"][0, comp.index]
            return {"attention": [[round(float(x), 4) for x in row] for row in pattern]}
        if comp.kind == "neuron":
            acts = cache[f"blocks.{comp.layer}.mlp.hook_post"][0, :, comp.index]
        else:
            handle = self.saes[comp.layer]
            acts = handle.sae.encode(cache[handle.hook][0].float())[:, comp.index]
        return {"activations": [round(float(x), 4) for x in acts]}
