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


PAPER_HEADS, PAPER_NEURONS = "roneneldan/TinyStories-1Layer-21M", "roneneldan/TinyStories-1M"
NEO_WINDOW = 8
"""The fixtures' local-attention window (the paper's models: 256), so short texts reach beyond it."""


def byte_level_tokenizer(vocab_size: int = 400):
    """A small byte-level BPE tokenizer like GPT-Neo's (GPT-2's): cased, spaces carried by the next token
    ("Ġthe"), no [UNK], ``<|endoftext|>`` as BOS and EOS; trained on the synthetic corpus."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    from simplestories_interp.data.sources import iter_stories

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(iter_stories("synthetic", limit=300), trainer=trainer)
    tok.add_special_tokens(["<|endoftext|>"])  # the last id, as GPT-2's 50256
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   unk_token="<|endoftext|>", model_max_length=2048)


def tiny_gpt_neo(tokenizer, n_layers: int, attention_types: list, seed: int):
    """A GPT-Neo model with the paper checkpoints' config fields (unscaled attention, alternating global
    and local layers, GELU MLP, 2048 positions of which 512 were trained), tiny dimensions."""
    from transformers import GPTNeoConfig, GPTNeoForCausalLM

    config = GPTNeoConfig(vocab_size=len(tokenizer), hidden_size=32, num_layers=n_layers, num_heads=4,
                          attention_types=attention_types, window_size=NEO_WINDOW, max_position_embeddings=2048,
                          activation_function="gelu_new", intermediate_size=None,
                          bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(seed)
    return GPTNeoForCausalLM(config).eval()


def paper_checkpoints(cache: Path) -> Path:
    """The TinyStories paper's two analysis checkpoints as tiny GPT-Neo stand-ins, laid out in the HF
    cache ``cache`` under their hub names (1 global layer; 4 layers alternating global and local)."""
    tokenizer = byte_level_tokenizer()
    for repo, n_layers, types, seed in ((PAPER_HEADS, 1, [[["global"], 1]], 0),
                                        (PAPER_NEURONS, 4, [[["global", "local"], 2]], 1)):
        source = cache.parent / "sources" / repo.split("/")[1]
        tiny_gpt_neo(tokenizer, n_layers, types, seed).save_pretrained(str(source))
        tokenizer.save_pretrained(str(source))
        build_hf_cache(cache, repo, source)
    return cache
