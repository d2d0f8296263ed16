"""``load_model``: the one correct way to get a SimpleStories model as a HookedTransformer.

TransformerLens cannot load these checkpoints itself (not in its official list, no local
path route, the tokenizer appends ``[EOS]``, and the configs claim n_ctx 2048). This module
resolves a name to a directory, reads the spec and weights, converts them with the explicit
key map of :mod:`simplestories_interp.zoo.convert`, attaches the fixed tokenizer, and applies no
weight processing unless asked.

Accepted inputs, tried in this order: an existing local directory (HF Llama or native
format); a zoo name (its local directory if present, else its hub repo); a hub repo id.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from transformer_lens import HookedTransformer
from transformers import PreTrainedTokenizerFast

from simplestories_interp import zoo
from simplestories_interp.data.tokenizer import check_vocab, load_tokenizer
from simplestories_interp.devices import parse_dtype, pick_device
from simplestories_interp.errors import (
    InvalidArgumentError,
    MissingDirectoryError,
    ModelNotTrainedError,
    RemoteCodeError,
    UnknownModelError,
    WeightsMismatchError,
)
from simplestories_interp.files import readable
from simplestories_interp.offline import hub_settings_now
from simplestories_interp.zoo import formats, hub
from simplestories_interp.zoo.convert import hf_to_tl, tl_config
from simplestories_interp.zoo.registry import ModelSpec


@dataclass(frozen=True)
class ModelDir:
    """A model directory on disk and, when known, the zoo entry it belongs to."""

    directory: Path
    spec: ModelSpec | None = None


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or "\\" in name or name.count("/") > 1


def resolve(name_or_path: str | Path, *, revision: str | None = None) -> ModelDir:
    """Find the directory holding a model's files (downloading from the hub if needed)."""
    name = str(name_or_path)
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise MissingDirectoryError(f"{name!r} is a file; pass the model directory that contains it")
        return ModelDir(path)
    if zoo.is_zoo_name(name):
        spec = zoo.get_spec(name)
        local = zoo.local_dir(spec)
        if local is not None:
            return ModelDir(local, spec)
        if spec.hub_id:
            return ModelDir(hub.download(spec.hub_id, revision=revision), spec)
        raise ModelNotTrainedError(
            f"zoo entry {name!r} has no weights yet (not shipped, not on the hub). Train it and save "
            f"it as a directory named {name!r} under models/ or a folder listed in $SSI_MODELS_PATH."
        )
    if isinstance(name_or_path, Path) or _looks_like_path(name):
        raise MissingDirectoryError(f"model directory {name!r} does not exist")
    if hub.looks_like_repo_id(name):
        return ModelDir(hub.download(name, revision=revision), zoo.spec_for_hub_id(name))
    zoo.get_spec(name)  # raises UnknownModelError with close matches
    raise UnknownModelError(name, zoo.names())  # pragma: no cover - get_spec raised


def require_loadable(*names: str) -> None:
    """Find every model a long job will load, before it starts: a study that loads its second model
    after minutes of work should refuse a misspelled name at once (``resolve`` without the weights)."""
    for name in names:
        if str(name) not in _transformer_lens_names():  # TransformerLens's own names load through it
            resolve(name)


def read_spec(found: ModelDir, *, n_ctx: int | None = None) -> ModelSpec:
    fmt = formats.detect_format(found.directory)
    if fmt == "native":
        spec = formats.read_native_spec(found.directory)
        spec = dataclasses.replace(found.spec, **_arch(spec)) if found.spec else spec
    else:
        spec = formats.read_hf_spec(found.directory, base=found.spec, n_ctx=n_ctx)
    return dataclasses.replace(spec, n_ctx=n_ctx) if n_ctx is not None else spec


def _arch(spec: ModelSpec) -> dict:
    return {f: getattr(spec, f) for f in formats.ARCH_FIELDS + ("normalization", "positional")}


def _tl_state(found: ModelDir, spec: ModelSpec) -> dict[str, torch.Tensor]:
    weights = formats.load_weights(found.directory)
    if formats.detect_format(found.directory) == "hf":
        return hf_to_tl(weights, spec)
    return weights


def _check_state(model: HookedTransformer, state: dict[str, torch.Tensor], spec: ModelSpec) -> None:
    """Every parameter present with the right shape (buffers are rebuilt by TL itself)."""
    expected = {k: tuple(v.shape) for k, v in model.named_parameters()}
    problems = [f"missing {k}" for k in expected if k not in state]
    problems += [f"unexpected {k}" for k in state if k not in expected]
    problems += [f"{k} has shape {tuple(v.shape)}, expected {expected[k]}"
                 for k, v in state.items() if k in expected and tuple(v.shape) != expected[k]]
    if problems:
        raise WeightsMismatchError(
            f"weights do not match architecture {spec.name!r}: " + "; ".join(problems[:6])
        )


def build_model(
    spec: ModelSpec,
    state: dict[str, torch.Tensor] | None = None,
    tokenizer: PreTrainedTokenizerFast | None = None,
    *,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    fold_ln: bool = False,
    center_writing_weights: bool = False,
    center_unembed: bool = False,
) -> HookedTransformer:
    """A HookedTransformer for ``spec`` with ``state`` (TL keys) and the tokenizer attached.

    Without ``state`` the weights are randomly initialised (useful for tests and training).
    """
    device, torch_dtype = pick_device(device), parse_dtype(dtype)
    cfg = tl_config(spec, device=device, dtype=torch_dtype)
    cfg.init_weights = state is None
    with warnings.catch_warnings():
        # TL 3.x warns on every construction that HookedTransformer will move to TransformerBridge.
        warnings.filterwarnings("ignore", message="HookedTransformer is deprecated", category=DeprecationWarning)
        model = HookedTransformer(cfg, tokenizer=None, move_to_device=False)
    if state is not None:
        _check_state(model, state, spec)
        state = {k: v.to(torch_dtype) for k, v in state.items()}
        model.load_and_process_state_dict(
            state,
            fold_ln=fold_ln,
            center_writing_weights=center_writing_weights,
            center_unembed=center_unembed,
            fold_value_biases=False,
            refactor_factored_attn_matrices=False,
        )
    if tokenizer is not None:
        attach_tokenizer(model, tokenizer)
    model.ssi_spec = spec  # type: ignore[attr-defined]  # kept for provenance (ssi info, saving)
    return model.to(device, print_details=False)


def attach_tokenizer(model: HookedTransformer, tokenizer: PreTrainedTokenizerFast) -> None:
    """Attach a fixed tokenizer (see :func:`simplestories_interp.data.tokenizer.fix_tokenizer`) without TL's reload.

    ``HookedTransformer.set_tokenizer`` re-instantiates the tokenizer from its name with
    ``AutoTokenizer.from_pretrained`` (a hub call for a repo id, and the ``[EOS]``-appending
    post-processor back for a local path). We set what it would infer instead: the tokenizer
    itself prepends nothing, so TransformerLens prepends ``[EOS]`` (id 1) as BOS.
    """
    check_vocab(tokenizer, model.cfg.d_vocab, where=tokenizer.name_or_path)
    model.tokenizer = tokenizer
    model.cfg.tokenizer_prepends_bos = len(tokenizer.encode("")) > 0
    model.cfg.default_prepend_bos = True


def load_model(
    name_or_path: str | Path,
    *,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    n_ctx: int | None = None,
    rotary_dim: int | None = None,
    fold_ln: bool = False,
    center_writing_weights: bool = False,
    center_unembed: bool = False,
    revision: str | None = None,
    trust_remote_code: bool | None = None,
) -> HookedTransformer:
    """Load a SimpleStories-style model as a TransformerLens ``HookedTransformer``.

    Args:
        name_or_path: a zoo name (``ssi zoo``), a local model directory (HF Llama or native
            format) or a Hugging Face repo id.
        device: ``None`` picks cuda, then mps, then cpu.
        dtype: ``None`` is float32; also ``"bf16"``, ``torch.float16``, ...
        n_ctx: override the context length (default: the zoo's or the training config's).
        rotary_dim: override how many dimensions per head RoPE rotates.
        fold_ln, center_writing_weights, center_unembed: TransformerLens weight processing,
            all off by default so that activations equal the original model's.
        revision: hub revision (branch, tag or commit) for hub repos.
        trust_remote_code: allow a model that TransformerLens loads with ``trust_remote_code`` (some
            hub families, e.g. Qwen) to run the hub's code; refused otherwise. ``None``: the
            ``SSI_TRUST_REMOTE_CODE=1`` environment variable (``ssi --trust-remote-code``).

    The tokenizer is attached with ``[EOS]`` as BOS: ``model.to_tokens("once upon a time")``
    starts with id 1 and has no trailing ``[EOS]``.
    """
    if n_ctx is not None and (not isinstance(n_ctx, int) or n_ctx < 2):
        raise InvalidArgumentError(f"n_ctx must be an integer >= 2, got {n_ctx!r}")
    parse_dtype(dtype)  # fail before any download
    if str(name_or_path) in _transformer_lens_names():
        if trust_remote_code is None:
            trust_remote_code = os.environ.get("SSI_TRUST_REMOTE_CODE") == "1"
        with contextlib.nullcontext() if trust_remote_code else no_remote_code(str(name_or_path)):
            return _from_transformer_lens(str(name_or_path), device, dtype)
    with readable():
        return _load(name_or_path, device=device, dtype=dtype, n_ctx=n_ctx, rotary_dim=rotary_dim, fold_ln=fold_ln,
                     center_writing_weights=center_writing_weights, center_unembed=center_unembed, revision=revision)


def as_model(model: HookedTransformer | str | Path, what: str = "model") -> HookedTransformer:
    """``model`` itself when it is loaded; loaded with :func:`load_model` when it is a name or folder.

    Lets every analysis function take what ``load_model`` takes (``cache_activations("SynthStories-1L",
    ...)``) instead of failing on ``str.cfg`` deep inside.
    """
    if isinstance(model, HookedTransformer):
        return model
    if isinstance(model, (str, Path)):
        return load_model(model)
    raise InvalidArgumentError(f"{what} must be a HookedTransformer or a model name or folder (as load_model "
                               f"takes), got {type(model).__name__} {model!r:.60}")


def _load(name_or_path, *, device, dtype, n_ctx, rotary_dim, fold_ln, center_writing_weights, center_unembed,
          revision) -> HookedTransformer:
    found = resolve(name_or_path, revision=revision)
    spec = read_spec(found, n_ctx=n_ctx)
    if rotary_dim is not None:
        try:
            spec = dataclasses.replace(spec, rotary_dim=rotary_dim)
        except ValueError as exc:
            raise InvalidArgumentError(str(exc)) from exc
    tokenizer = load_tokenizer(found.directory)
    check_vocab(tokenizer, spec.d_vocab, where=str(found.directory))
    state = _tl_state(found, spec)
    return build_model(
        spec, state, tokenizer, device=device, dtype=dtype, fold_ln=fold_ln,
        center_writing_weights=center_writing_weights, center_unembed=center_unembed,
    )


def _transformer_lens_names() -> set[str]:
    """Models TransformerLens itself can load (e.g. the TinyStories paper's GPT-Neo models)."""
    from transformer_lens.loading_from_pretrained import OFFICIAL_MODEL_NAMES

    return {n for n in OFFICIAL_MODEL_NAMES if not n.startswith("SimpleStories/")}


_REMOTE_CODE_HINT = ("its loader would run code from the Hugging Face Hub (trust_remote_code), which this library "
                     "never does on its own; if you trust that repository, pass --trust-remote-code (Python: "
                     "load_model(..., trust_remote_code=True))")


@contextlib.contextmanager
def no_remote_code(name: str) -> Iterator[None]:
    """Refuse, before any download, every transformers loader call that asks for ``trust_remote_code``
    while TransformerLens loads ``name`` (it sets it for some families on its own)."""
    import transformers
    from transformer_lens.loading_from_pretrained import NEED_REMOTE_CODE_MODELS

    if name.startswith(NEED_REMOTE_CODE_MODELS):
        raise RemoteCodeError(f"model {name!r} is refused: {_REMOTE_CODE_HINT}")
    classes = (transformers.AutoConfig, transformers.AutoModelForCausalLM, transformers.AutoTokenizer)
    originals = [cls.__dict__["from_pretrained"] for cls in classes]

    def guard(original):
        def from_pretrained(cls, *args, **kwargs):
            if kwargs.get("trust_remote_code"):
                raise RemoteCodeError(f"model {name!r} is refused: {_REMOTE_CODE_HINT}")
            return original.__func__(cls, *args, **kwargs)
        return classmethod(from_pretrained)

    for cls, original in zip(classes, originals, strict=True):
        cls.from_pretrained = guard(original)
    try:
        yield
    finally:
        for cls, original in zip(classes, originals, strict=True):
            cls.from_pretrained = original


def _from_transformer_lens(name: str, device, dtype) -> HookedTransformer:
    """Delegate to TransformerLens (needs the hub or its cache), without weight processing."""
    if hub.is_offline() and not (hub.cache_dir() / ("models--" + name.replace("/", "--"))).is_dir():
        raise hub.HubOfflineError(
            f"{name!r} is loaded through TransformerLens from the Hugging Face Hub, which is offline "
            f"and has no cached copy in {str(hub.cache_dir())!r}. Use a shipped model instead (ssi zoo)."
        )
    try:
        with warnings.catch_warnings(), hub_settings_now():
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            return HookedTransformer.from_pretrained_no_processing(
                name, device=str(pick_device(device)), dtype=parse_dtype(dtype))
    except OSError as exc:
        raise hub.HubOfflineError(
            f"cannot fetch {name!r} from the Hugging Face Hub ({type(exc).__name__}); it is not cached. "
            "Use a shipped model instead (ssi zoo)."
        ) from exc
