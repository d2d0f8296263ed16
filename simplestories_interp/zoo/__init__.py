"""The model side of the pipeline: the zoo table, on-disk formats, HF <-> TransformerLens
conversion, loading and sampling.

Only the registry is imported here (it is light), so ``from simplestories_interp import zoo``
and ``zoo.get_spec(...)`` stay instant; the heavy modules (:mod:`.loading`, :mod:`.convert`)
load when imported by name.
"""

from simplestories_interp.zoo.registry import (
    DEFAULT_MODEL,
    SHIPPED_MODELS_DIR,
    ModelSpec,
    check_model_name,
    entries,
    get_spec,
    is_zoo_name,
    local_dir,
    model_search_path,
    names,
    register,
    spec_for_hub_id,
    weights_location,
)

__all__ = [
    "DEFAULT_MODEL", "SHIPPED_MODELS_DIR", "ModelSpec", "check_model_name",
    "entries", "get_spec", "is_zoo_name", "local_dir",
    "model_search_path", "names", "register", "spec_for_hub_id", "weights_location",
]
