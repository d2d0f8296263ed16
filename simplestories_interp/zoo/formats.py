"""Model directories on disk: reading and writing the two formats the library uses.

* **HF Llama** (``config.json`` + ``model.safetensors`` + ``tokenizer.json``): what the
  SimpleStories hub repos hold and what our trainer writes; ``transformers`` loads it too.
* **Native** (``ssi_config.json`` + ``model.safetensors`` holding a HookedTransformer state
  dict): for models HF Llama cannot express, such as those without normalisation layers.

Weights are read with safetensors (or ``torch.load(weights_only=True)`` for legacy ``.bin``
files), never by executing code; the shards a ``model.safetensors.index.json`` names must lie
inside the model directory (:func:`shard_files`). Writes go to a temporary directory that is
renamed into place, so a killed save never leaves a half-written model behind, and every file
gets the mode an ordinary file would (``0o666 & ~umask``), weights included.
"""

from __future__ import annotations

import dataclasses
import json
import re
import warnings
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Literal

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import Tensor

from simplestories_interp import zoo
from simplestories_interp.errors import (
    CorruptFileError,
    MissingDirectoryError,
    MissingWeightsError,
    UnsupportedArchitectureError,
    WeightsMismatchError,
)
from simplestories_interp.files import atomic_dir, save_weights
from simplestories_interp.zoo.registry import ModelSpec

HF_CONFIG, NATIVE_CONFIG, TRAINING_CONFIG = "config.json", "ssi_config.json", "training_config.json"
WEIGHTS, WEIGHTS_INDEX, LEGACY_WEIGHTS = "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin"
Format = Literal["hf", "native"]
ARCH_FIELDS = ("n_layers", "d_model", "n_heads", "d_head", "n_key_value_heads", "d_mlp", "d_vocab")


def detect_format(directory: Path) -> Format:
    if not directory.is_dir():
        raise MissingDirectoryError(f"model directory {str(directory)!r} does not exist")
    if (directory / NATIVE_CONFIG).is_file():
        return "native"
    if (directory / HF_CONFIG).is_file():
        return "hf"
    raise MissingWeightsError(
        f"{str(directory)!r} is not a model directory: it has neither {HF_CONFIG} (HF Llama) "
        f"nor {NATIVE_CONFIG} (native). Point at the folder that holds the model files."
    )


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptFileError(f"cannot parse {str(path)!r}: {exc}") from exc
    if not isinstance(value, dict):
        raise CorruptFileError(f"{str(path)!r} must hold a JSON object of settings, got a "
                                     f"{type(value).__name__}; restore the file the model was saved with")
    return value


def training_n_ctx(directory: Path) -> int | None:
    """n_ctx recorded by the trainer next to the weights, if any."""
    path = directory / TRAINING_CONFIG
    n_ctx = _read_json(path).get("n_ctx") if path.is_file() else None
    return n_ctx if isinstance(n_ctx, int) and not isinstance(n_ctx, bool) and n_ctx >= 2 else None


def _check_supported(cfg: dict, path: Path) -> None:
    arch = cfg.get("architectures") or []
    if cfg.get("model_type") != "llama" and "LlamaForCausalLM" not in arch:
        raise UnsupportedArchitectureError(
            f"{str(path)!r} holds a {cfg.get('model_type') or arch or 'unknown'} model; only Llama-style "
            "(LlamaForCausalLM) checkpoints such as the SimpleStories suite can be loaded"
        )
    unsupported = {
        "attention_bias": cfg.get("attention_bias", False),
        "mlp_bias": cfg.get("mlp_bias", False),
        "hidden_act": cfg.get("hidden_act", "silu") != "silu",
    }
    rope = cfg.get("rope_parameters") or cfg.get("rope_scaling") or {}
    unsupported["rope scaling"] = rope.get("rope_type", rope.get("type", "default")) != "default"
    bad = [k for k, v in unsupported.items() if v]
    if bad:
        raise UnsupportedArchitectureError(f"{str(path)!r} uses {', '.join(bad)}, which is not supported")


def read_hf_spec(directory: Path, *, base: ModelSpec | None = None,
                 n_ctx: int | None = None) -> ModelSpec:
    """The ModelSpec described by a HF Llama ``config.json``.

    n_ctx comes from the ``n_ctx`` argument, else ``base`` (the zoo entry), else from the trainer's
    ``training_config.json``, else from the matching SimpleStories architecture (512);
    ``max_position_embeddings`` is used only as a last resort, with a warning, because the hub
    exports claim 2048.
    """
    cfg = _read_json(directory / HF_CONFIG)
    _check_supported(cfg, directory)
    try:
        d_model, n_heads = int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
        if n_heads < 1 or d_model < 1:
            raise ValueError(f"num_attention_heads={n_heads} and hidden_size={d_model} must be positive")
        rope = cfg.get("rope_parameters") or {}
        d_head = int(cfg.get("head_dim") or d_model // n_heads)
        factor = float(rope.get("partial_rotary_factor", cfg.get("partial_rotary_factor", 1.0)))
        spec = ModelSpec(
            name=base.name if base else directory.name,
            n_layers=int(cfg["num_hidden_layers"]),
            d_model=d_model,
            n_heads=n_heads,
            d_head=d_head,
            n_key_value_heads=int(cfg.get("num_key_value_heads") or n_heads),
            d_mlp=int(cfg["intermediate_size"]),
            d_vocab=int(cfg["vocab_size"]),
            rotary_dim=int(d_head * factor) if factor != 1.0 else None,
            rotary_base=float(rope.get("rope_theta", cfg.get("rope_theta", 10000.0))),
            eps=float(cfg.get("rms_norm_eps", 1e-6)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptFileError(f"{str(directory / HF_CONFIG)!r} is not a valid Llama config: {exc}") from exc
    if base is not None:
        diff = [f"{d}={getattr(spec, d)} (zoo: {getattr(base, d)})" for d in ARCH_FIELDS
                if getattr(spec, d) != getattr(base, d)]
        if diff:
            raise WeightsMismatchError(
                f"{str(directory)!r} does not hold the {base.name} architecture: " + ", ".join(diff)
            )
        return dataclasses.replace(base, rotary_base=spec.rotary_base, eps=spec.eps)
    n_ctx = n_ctx or training_n_ctx(directory) or _zoo_n_ctx(spec)
    if n_ctx is None:
        n_ctx = int(cfg.get("max_position_embeddings", 512))
        warnings.warn(
            f"{directory}: no n_ctx in a training_config.json and not a zoo architecture; using "
            f"max_position_embeddings={n_ctx} as n_ctx (pass n_ctx= to override)",
            stacklevel=3,
        )
    return dataclasses.replace(spec, n_ctx=n_ctx)


def _zoo_n_ctx(spec: ModelSpec) -> int | None:
    for name in zoo.names():
        entry = zoo.get_spec(name)
        if all(getattr(entry, d) == getattr(spec, d) for d in ARCH_FIELDS):
            return entry.n_ctx
    return None


def read_native_spec(directory: Path) -> ModelSpec:
    raw = _read_json(directory / NATIVE_CONFIG)
    fields = {f.name for f in dataclasses.fields(ModelSpec)}
    try:
        return ModelSpec(**{k: v for k, v in raw.items() if k in fields})
    except (TypeError, ValueError) as exc:
        raise CorruptFileError(f"{str(directory / NATIVE_CONFIG)!r} is invalid: {exc}") from exc


def load_weights(directory: Path) -> dict[str, Tensor]:
    """All tensors of a model directory (single or sharded safetensors, or legacy .bin)."""
    single, index, legacy = directory / WEIGHTS, directory / WEIGHTS_INDEX, directory / LEGACY_WEIGHTS
    if single.is_file():
        files = [single]
    elif index.is_file():
        files = shard_files(directory, index)
    elif legacy.is_file():
        try:
            return torch.load(legacy, map_location="cpu", weights_only=True)
        except Exception as exc:  # pickle raises many types on corrupt input
            raise CorruptFileError(f"cannot read {str(legacy)!r}: {exc}") from exc
    else:
        raise MissingWeightsError(
            f"no weights in {str(directory)!r}: expected {WEIGHTS} (or {WEIGHTS_INDEX}). "
            "Was the download or save interrupted?"
        )
    state: dict[str, Tensor] = {}
    for file in files:
        if not file.is_file():
            raise MissingWeightsError(f"weights shard {str(file)!r} listed in the index is missing")
        try:
            state.update(load_file(str(file)))
        except PermissionError:
            raise  # not corrupt: reported as permission denied by the caller
        except (SafetensorError, OSError, ValueError) as exc:
            raise CorruptFileError(
                f"{str(file)!r} is truncated or corrupt ({exc}); delete it and download or save it again"
            ) from exc
    return state


def shard_files(directory: Path, index: Path) -> list[Path]:
    """The shard files a ``model.safetensors.index.json`` names, each checked to lie inside ``directory``.

    An index is data from wherever the model came from, so its ``weight_map`` (tensor name -> file
    name) may not point anywhere else: every entry must be a relative name, without ``..``, that
    still lies inside the model directory once symbolic links are resolved. The one place outside
    that is accepted is the ``blobs`` folder of a Hugging Face cache, which the files of a cached
    snapshot (``<repo>/snapshots/<revision>``) link to. All entries are checked before any file is
    opened; a bad one raises :class:`CorruptFileError` naming the entry and the rule.
    """
    raw = _read_json(index)
    weight_map = raw.get("weight_map") if isinstance(raw, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise CorruptFileError(
            f"{str(index)!r} has no weight_map entries (tensor name -> shard file): the index is corrupt"
        )
    root = directory.resolve()
    blobs = root.parent.parent / "blobs" if root.parent.name == "snapshots" else None
    files: dict[str, Path] = {}
    for tensor, name in weight_map.items():
        if name not in files:
            files[name] = _shard_path(directory, root, blobs, index, tensor, name)
    return [files[name] for name in sorted(files)]


def _shard_path(directory: Path, root: Path, blobs: Path | None, index: Path, tensor: str, name) -> Path:
    def refuse(rule: str) -> CorruptFileError:
        return CorruptFileError(
            f"{str(index)!r}: weight_map entry {tensor!r} -> {name!r} {rule}; shard files must be named "
            f"relative to the model directory {str(directory)!r} and lie inside it. Refusing to load it."
        )

    if not isinstance(name, str) or not name.strip():
        raise refuse("is not a file name")
    if "\x00" in name:
        raise refuse("contains a NUL character")
    if name.startswith(("/", "\\")) or PurePosixPath(name).is_absolute() or PureWindowsPath(name).drive:
        raise refuse("is an absolute path")
    if ".." in re.split(r"[/\\]", name):
        raise refuse("contains '..' (a parent directory)")
    path = directory / name
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise refuse(f"cannot be resolved ({exc})") from exc
    if resolved == root:
        raise refuse("names the model directory itself")
    inside = resolved.is_relative_to(root)
    in_hf_cache = blobs is not None and resolved.parent == blobs.resolve() and path.parent.resolve() == root
    if not (inside or in_hf_cache):
        raise refuse(f"resolves outside the model directory (to {str(resolved)!r}) through a symbolic link")
    return path


def save_native(model, directory: str | Path, *, spec: ModelSpec | None = None,
                tokenizer=None, card: str | None = None, training: dict | None = None) -> Path:
    """Write a HookedTransformer's parameters in the native format (atomically).

    ``spec`` and ``tokenizer`` default to the ones ``load_model``/``build_model`` attached.
    Buffers (rotary tables, masks) are not saved: TransformerLens rebuilds them.
    """
    spec = spec or model.ssi_spec
    tokenizer = tokenizer if tokenizer is not None else model.tokenizer
    with atomic_dir(directory) as tmp:
        tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.named_parameters()}
        save_weights(tensors, tmp / WEIGHTS, {"format": "pt"})
        spec_dict = {k: v for k, v in dataclasses.asdict(spec).items() if k != "extra"}
        (tmp / NATIVE_CONFIG).write_text(json.dumps({**spec_dict, "format": "ssi-native-v1"}, indent=2))
        if training is not None:
            (tmp / TRAINING_CONFIG).write_text(json.dumps({**training, "n_ctx": spec.n_ctx}, indent=2, default=str))
        _write_extras(tmp, tokenizer, card)
    return Path(directory)


def save_hf(hf_state: dict[str, Tensor], spec: ModelSpec, directory: str | Path,
            tokenizer=None, card: str | None = None, training: dict | None = None) -> Path:
    """Write HF Llama weights + config (loadable by ``AutoModelForCausalLM``), atomically.

    ``max_position_embeddings`` is set to the true n_ctx, which ``training_config.json``
    records too so that our loader never guesses.
    """
    if not spec.hf_expressible:
        raise WeightsMismatchError(
            f"{spec.name!r} has no normalisation layers or has learned absolute positions, which HF Llama "
            "cannot express: save it in the native format (ssi.formats.save_native)"
        )
    with atomic_dir(directory) as tmp:
        _write_hf(tmp, hf_state, spec, tokenizer, card, training)
    return Path(directory)


def _write_hf(tmp: Path, hf_state: dict[str, Tensor], spec: ModelSpec, tokenizer, card, training) -> None:
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in hf_state.items()
               if k != "lm_head.weight"}  # tied: HF re-creates lm_head from the embedding
    save_weights(tensors, tmp / WEIGHTS, {"format": "pt"})
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": spec.d_model, "num_hidden_layers": spec.n_layers,
        "num_attention_heads": spec.n_heads, "num_key_value_heads": spec.n_key_value_heads,
        "head_dim": spec.d_head, "intermediate_size": spec.d_mlp, "vocab_size": spec.d_vocab,
        "max_position_embeddings": spec.n_ctx, "rms_norm_eps": spec.eps, "hidden_act": "silu",
        "rope_parameters": {"rope_theta": spec.rotary_base, "rope_type": "default"},
        "rope_theta": spec.rotary_base, "tie_word_embeddings": True, "attention_bias": False,
        "mlp_bias": False, "bos_token_id": 1, "eos_token_id": 1, "pad_token_id": 0,
        "torch_dtype": "float32",
    }
    (tmp / HF_CONFIG).write_text(json.dumps(config, indent=2))
    training = {**(training or {}), "n_ctx": spec.n_ctx, "name": spec.name}
    (tmp / TRAINING_CONFIG).write_text(json.dumps(training, indent=2, default=str))
    _write_extras(tmp, tokenizer, card)


def _write_extras(directory: Path, tokenizer, card: str | None) -> None:
    if tokenizer is not None:
        tokenizer.save_pretrained(str(directory))
    if card is not None:
        (directory / "README.md").write_text(card)
