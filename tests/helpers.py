"""Checkpoint builders shared by the tests (random weights, exact configs)."""

from __future__ import annotations

from pathlib import Path

import torch

from simplestories_interp import zoo


def hf_llama(spec: zoo.ModelSpec, seed: int = 0, max_position_embeddings: int = 2048):
    """A random-weight LlamaForCausalLM with the spec's exact config (norm weights perturbed,
    so that a wrong norm mapping shows in the logits)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=spec.d_vocab, hidden_size=spec.d_model, intermediate_size=spec.d_mlp,
        num_hidden_layers=spec.n_layers, num_attention_heads=spec.n_heads,
        num_key_value_heads=spec.n_key_value_heads, head_dim=spec.d_head,
        max_position_embeddings=max_position_embeddings, rms_norm_eps=1e-6,
        tie_word_embeddings=True, rope_theta=10000.0,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or "layernorm" in name:
                p.copy_(1 + 0.2 * torch.randn_like(p))
    return model


def save_hf_checkpoint(directory: Path, spec: zoo.ModelSpec, tokenizer, seed: int = 0):
    """Write a HF Llama checkpoint as the hub repos hold it; return the HF model."""
    model = hf_llama(spec, seed)
    model.save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))
    return model


def build_hf_cache(cache: Path, repo_id: str, source: Path, revision: str = "0" * 40) -> Path:
    """Lay out ``source``'s files as huggingface_hub caches a downloaded repo."""
    import shutil

    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    for file in source.iterdir():
        shutil.copy(file, snapshot / file.name)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    return snapshot


def experiment(name: str):
    """The module of ``experiments/NAME.py`` (the scripts are not a package), loaded afresh."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "experiments" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
