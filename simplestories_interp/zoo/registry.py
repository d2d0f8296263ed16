"""The model zoo: a table of architectures and where their weights live.

The zoo is data. ``_BASE`` lists the five SimpleStories sizes; every size exists in two
generations (V1, vocab 4096; V2, vocab 4019) with its own hub repo. Three variant axes are
derived from any entry by name, without code per variant:

* context length: ``SimpleStories-5M-ctx128`` is the 5M architecture trained at n_ctx 128;
* positions: ``SynthStories-1L-abspos`` has learned absolute position embeddings instead of RoPE;
* normalisation: ``SimpleStories-1.25M-noLN`` is the same architecture with no RMSNorm.

Variants (and any other entry) get their weights from a local directory named after the
entry, searched in the repository's ``models/`` folder and in ``$SSI_MODELS_PATH``; entries
with a ``hub_id`` fall back to the Hugging Face Hub. Entries with neither are "not trained yet".
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from simplestories_interp.errors import ConfigError, UnknownModelError

Normalization = Literal["rms", "none"]
Positional = Literal["rotary", "absolute"]
Generation = Literal["V1", "V2"]

#: The repository's folder of shipped models (next to the package in a source checkout).
SHIPPED_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


@dataclass(frozen=True)
class ModelSpec:
    """One zoo entry: an exact architecture plus where its weights come from."""

    name: str
    """Zoo name, e.g. ``SimpleStories-5M`` or ``SimpleStories-V2-1.25M-ctx128-noLN``."""
    n_layers: int
    """Number of transformer blocks."""
    d_model: int
    """Width of the residual stream."""
    n_heads: int
    """Query heads per layer."""
    d_head: int
    """Width of one attention head."""
    n_key_value_heads: int
    """Key/value heads per layer (grouped-query attention)."""
    d_mlp: int
    """Hidden width of the SwiGLU MLP."""
    d_vocab: int
    """Vocabulary size (4096 for V1, 4019 for V2)."""
    n_ctx: int = 512
    """Context length the model was trained on (not the exported max_position_embeddings)."""
    normalization: Normalization = "rms"
    """``"rms"``: pre-norm RMSNorm as trained; ``"none"``: no normalisation layers at all."""
    positional: Positional = "rotary"
    """``"rotary"``: RoPE as SimpleStories; ``"absolute"``: learned absolute position embeddings
    added to the token embeddings, as the TinyStories paper's GPT-Neo models (native format only)."""
    rotary_dim: int | None = None
    """Dimensions of each head that RoPE rotates; ``None`` means all of ``d_head``."""
    rotary_base: float = 10000.0
    """RoPE base (``rope_theta``)."""
    eps: float = 1e-6
    """RMSNorm epsilon."""
    generation: Generation = "V1"
    """SimpleStories generation the architecture belongs to."""
    size: str = ""
    """Size label of the base architecture (``"1.25M"``, ``"5M"``, ...)."""
    base: str = ""
    """Name of the entry this one is a variant of (itself for base entries)."""
    hub_id: str | None = None
    """Hugging Face repo holding the weights, if any."""
    description: str = ""
    """One line for ``ssi zoo``/``ssi info``."""
    extra: dict = field(default_factory=dict, compare=False, hash=False)
    """Free-form facts for ``ssi info`` (training data, provenance)."""

    def __post_init__(self) -> None:
        for name in ("n_layers", "d_model", "n_heads", "d_head", "n_key_value_heads", "d_mlp"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if self.d_vocab <= 1:
            raise ConfigError(f"d_vocab must be at least 2, got {self.d_vocab}")
        if self.n_ctx < 2:
            raise ConfigError(f"n_ctx must be at least 2, got {self.n_ctx}")
        if self.n_heads % self.n_key_value_heads:
            raise ConfigError(
                f"n_heads ({self.n_heads}) must be a multiple of n_key_value_heads "
                f"({self.n_key_value_heads})"
            )
        if self.normalization not in ("rms", "none"):
            raise ConfigError(f"normalization must be 'rms' or 'none', got {self.normalization!r}")
        if self.positional not in ("rotary", "absolute"):
            raise ConfigError(f"positional must be 'rotary' or 'learned', got {self.positional!r}")
        rd = self.rotary_dim
        if rd is not None and not (0 < rd <= self.d_head and rd % 2 == 0):
            raise ConfigError(f"rotary_dim must be even and in (0, d_head={self.d_head}], got {rd}")

    @property
    def rotary_dims(self) -> int:
        return self.rotary_dim if self.rotary_dim is not None else self.d_head

    @property
    def n_params(self) -> int:
        """Parameter count, tied embedding counted once (as the SimpleStories table does)."""
        attn = self.d_model * self.d_head * (2 * self.n_heads + 2 * self.n_key_value_heads)
        mlp = 3 * self.d_model * self.d_mlp
        norms = 2 * self.d_model if self.normalization == "rms" else 0
        final = self.d_model if self.normalization == "rms" else 0
        positions = self.n_ctx * self.d_model if self.positional == "absolute" else 0
        return self.d_vocab * self.d_model + positions + self.n_layers * (attn + mlp + norms) + final

    @property
    def hf_expressible(self) -> bool:
        """Whether HF ``LlamaForCausalLM`` can hold this architecture (else: the native format)."""
        return self.normalization == "rms" and self.positional == "rotary"

    def variant(self, *, n_ctx: int | None = None, normalization: Normalization | None = None,
                positional: Positional | None = None):
        """The spec of a context-length, position and/or normalisation variant of this entry."""
        n_ctx = self.n_ctx if n_ctx is None else n_ctx
        normalization = normalization or self.normalization
        positional = positional or self.positional
        base = self.base or self.name
        name = base + (f"-ctx{n_ctx}" if n_ctx != 512 else "")
        # a base with learned positions (the paper-shape models) keeps its name: -abspos marks a change
        moved = positional == "absolute" and self.positional != "absolute"
        name += "-abspos" if moved else ""
        name = norm_free_name(name) if normalization == "none" else name
        is_base = name == base
        return dataclasses.replace(
            self,
            name=name,
            n_ctx=n_ctx,
            normalization=normalization,
            positional=positional,
            base=base,
            hub_id=self.hub_id if is_base else None,
            description=self.description if is_base else _variant_description(
                n_ctx, normalization, "absolute" if moved else "rotary"),
        )


def _d_mlp(d_model: int) -> int:
    return int(d_model * 4 * 2 / 3)


# size: (n_layers, d_model, n_heads, d_head). Every size has 2 KV heads and a SwiGLU MLP of
# int(4 * 2/3 * d_model); the table in shared/reference/simplestories.md is the source.
_BASE: dict[str, tuple[int, int, int, int]] = {
    "1.25M": (4, 128, 4, 32),
    "5M": (6, 256, 4, 64),
    "11M": (6, 384, 6, 64),
    "30M": (10, 512, 8, 64),
    "35M": (12, 512, 8, 64),
}
_VOCAB: dict[str, int] = {"V1": 4096, "V2": 4019}
_HUB_ORG = "SimpleStories"


def _base_name(generation: str, size: str) -> str:
    return f"SimpleStories-{size}" if generation == "V1" else f"SimpleStories-{generation}-{size}"


def _variant_description(n_ctx: int, normalization: str, positional: str) -> str:
    parts = [f"trained at n_ctx {n_ctx}"] if n_ctx != 512 else []
    parts += ["learned absolute positions instead of RoPE"] if positional == "absolute" else []
    parts += ["without normalisation layers"] if normalization == "none" else []
    return "variant: " + ", ".join(parts)


def _base_specs() -> dict[str, ModelSpec]:
    specs = {}
    for generation, d_vocab in _VOCAB.items():
        for size, (n_layers, d_model, n_heads, d_head) in _BASE.items():
            name = _base_name(generation, size)
            specs[name] = ModelSpec(
                name=name,
                n_layers=n_layers,
                d_model=d_model,
                n_heads=n_heads,
                d_head=d_head,
                n_key_value_heads=2,
                d_mlp=_d_mlp(d_model),
                d_vocab=d_vocab,
                generation=generation,  # type: ignore[arg-type]
                size=size,
                base=name,
                hub_id=f"{_HUB_ORG}/{name}",
                description=f"SimpleStories {generation} {size}, trained on SimpleStories",
            )
    return specs


def _synth_specs() -> dict[str, ModelSpec]:
    """The embedded default family: trained here on the built-in synthetic corpus, shipped in
    models/. Same architectures as SimpleStories (plus a 1-layer model for head studies)."""
    base = _base_specs()["SimpleStories-1.25M"]
    desc = "trained offline on the built-in synthetic corpus; shipped in models/"
    small = dataclasses.replace(base, name="SynthStories-1.25M", base="SynthStories-1.25M",
                                hub_id=None, description=desc)
    one_layer = ModelSpec(
        name="SynthStories-1L", base="SynthStories-1L", n_layers=1, d_model=256, n_heads=8,
        d_head=32, n_key_value_heads=8, d_mlp=_d_mlp(256), d_vocab=4096, size="1L",
        description="1 layer, 8 heads (for the TinyStories head figures); " + desc,
    )
    # The TinyStories paper's two model shapes, with learned positions as its GPT-Neo models
    # (trained with unscaled attention scores; exported in the standard convention).
    paper_heads = ModelSpec(
        name="SynthStories-1L-1024", base="SynthStories-1L-1024", n_layers=1, d_model=1024, n_heads=16,
        d_head=64, n_key_value_heads=16, d_mlp=_d_mlp(1024), d_vocab=4096, size="1L", positional="absolute",
        description="1 layer, d_model 1024, 16 heads, learned positions: the paper's head-model size, trained "
                    "on a GPU (155.8M tokens); the default head model of the TinyStories figures; " + desc,
    )
    paper_neurons = ModelSpec(
        name="SynthStories-1M-paper", base="SynthStories-1M-paper", n_layers=8, d_model=64, n_heads=4,
        d_head=16, n_key_value_heads=4, d_mlp=256, d_vocab=4096, size="1M", positional="absolute",
        description="8 layers, d_model 64, 256 MLP neurons per layer, learned positions: the paper's Fig. 21 "
                    "neuron-model shape (4 heads of 16, not its 16 of 4: 2.4x cheaper on a CPU); " + desc,
    )
    long = dataclasses.replace(small, name="SynthStories-1.25M-long", base="SynthStories-1.25M-long",
                               description="SynthStories-1.25M fine-tuned on long stories (synthetic-mix), for the "
                                           "context-length study; -ctx64/-ctx128 likewise from those variants")
    return {s.name: s for s in (small, long, one_layer, paper_heads, paper_neurons)}


_REGISTRY: dict[str, ModelSpec] = {**_base_specs(), **_synth_specs()}
#: The model every command uses when none is named: runs offline on a fresh machine.
DEFAULT_MODEL = "SynthStories-1.25M"
NORM_FREE_SUFFIX = "-noLN"
"""Names a model's norm-free twin (``ssi noln``): the one rule, used by the zoo, the fine-tune and the study."""


def norm_free_name(name: str) -> str:
    """The name of ``name``'s norm-free twin (``name`` itself if it is one already)."""
    return name if name.endswith(NORM_FREE_SUFFIX) else name + NORM_FREE_SUFFIX

DEFAULT_NEURON_MODEL = "SynthStories-1M-paper"
"""The paper's Fig. 21 model shape (8 layers, d_model 64): its index-picked neurons have roles as the paper's
do, and its neurons beat random directions in more layers than SynthStories-1.25M's (docs/neurons.md).
Default of ``ssi reproduce tinystories --neuron-model``."""
DEFAULT_HEAD_MODEL = "SynthStories-1L-1024"
"""The paper-scale 1-layer model (GPU-trained, learned positions): it has the paper's positional head. Default of
``ssi heads`` and ``ssi reproduce tinystories --head-model``."""
_VARIANT_RE = re.compile(r"^(?P<base>.+?)(?:-ctx(?P<ctx>\d+))?(?P<abspos>-abspos)?(?P<noln>-noLN)?$")


def register(spec: ModelSpec, *, overwrite: bool = False) -> ModelSpec:
    """Add an entry to the zoo (e.g. a model you trained), so it loads by name."""
    if spec.name in _REGISTRY and not overwrite:
        raise ConfigError(f"zoo entry {spec.name!r} exists; pass overwrite=True to replace it")
    _REGISTRY[spec.name] = spec
    return spec


def names() -> list[str]:
    """Names of the registered entries (variants are derived on demand, not listed)."""
    return list(_REGISTRY)


def entries() -> list[ModelSpec]:
    """Registered entries plus every variant that has a local directory (shipped or trained)."""
    specs = dict(_REGISTRY)
    for root in model_search_path():
        if not root.is_dir():
            continue
        for child in sorted(root.iterdir()):
            if child.name not in specs and is_zoo_name(child.name):
                spec = get_spec(child.name)
                if local_dir(spec) is not None:
                    specs[child.name] = spec
    return list(specs.values())


def get_spec(name: str) -> ModelSpec:
    """The spec of a zoo name, including derived ``-ctxN`` / ``-abspos`` / ``-noLN`` variants."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    match = _VARIANT_RE.match(name)
    if match and match["base"] in _REGISTRY and (match["ctx"] or match["abspos"] or match["noln"]):
        base = _REGISTRY[match["base"]]
        n_ctx = int(match["ctx"]) if match["ctx"] else None
        if n_ctx is not None and n_ctx < 2:
            raise UnknownModelError(name, names(), hint=f"n_ctx must be at least 2, got {n_ctx}.")
        return base.variant(n_ctx=n_ctx, normalization="none" if match["noln"] else None,
                            positional="absolute" if match["abspos"] else None)
    raise UnknownModelError(name, names() + [norm_free_name(n) for n in names()])


def is_zoo_name(name: str) -> bool:
    try:
        get_spec(name)
    except UnknownModelError:
        return False
    return True


_FAMILIES = ("SimpleStories", "SynthStories")


def check_model_name(name: str) -> None:
    """Refuse, before torch loads, a name that can only be a misspelled zoo entry: it starts like the
    zoo's families but is neither an entry, a variant nor a folder (anything else may be a hub repo or
    a TransformerLens name, which only the loader can tell)."""
    if name.startswith(_FAMILIES) and "/" not in name and not is_zoo_name(name) and not Path(name).exists() \
            and not any((root / name).is_dir() for root in model_search_path()):
        raise UnknownModelError(name, names() + [norm_free_name(n) for n in names()])


def spec_for_hub_id(hub_id: str) -> ModelSpec | None:
    """The entry whose weights live in ``hub_id`` (so n_ctx comes from the zoo)."""
    return next((s for s in _REGISTRY.values() if s.hub_id == hub_id), None)


def model_search_path() -> list[Path]:
    """Folders searched for local weights: ``$SSI_MODELS_PATH`` entries, then ``models/``."""
    extra = [Path(p).expanduser() for p in os.environ.get("SSI_MODELS_PATH", "").split(os.pathsep)]
    return [p for p in extra if str(p) not in ("", ".")] + [SHIPPED_MODELS_DIR]


def local_dir(spec: ModelSpec) -> Path | None:
    """The local directory holding this entry's weights, if there is one."""
    for root in model_search_path():
        candidate = root / spec.name
        if (candidate / "config.json").is_file() or (candidate / "ssi_config.json").is_file():
            return candidate
    return None


def weights_location(spec: ModelSpec) -> str:
    """Where ``load_model`` will take the weights from, in words."""
    local = local_dir(spec)
    if local is not None:
        shipped = local.parent == SHIPPED_MODELS_DIR
        return f"shipped: models/{spec.name}" if shipped else f"local: {local}"
    if spec.hub_id:
        return f"hub: {spec.hub_id}"
    return "not trained yet"
