"""The ``budget`` backend: a ``<mode>+budget`` artifact is its lossy mode with the fewest worst layers kept wider.

It sits above the quantizers and builds nothing itself: the search (``qbench.repair.search``) asks the lossy mode's backend for variants with
layers kept at higher precision (``Backend.keeper``) and keeps the first that meets the quality budget. The cache
key is the lossy mode's key plus everything the search reads: the evaluation data, the budget, the devices it
judges on, the explained samples and its own code. The manifest carries the search: ``kept_layers`` (the float
model's output tensor name -> precision; ``qbench.size`` sizes them), ``kept_outputs`` (the same layers' outputs as
the artifact names them; the contract exempts them) and ``budget_search`` (every step).
"""

from __future__ import annotations

from typing import Any

from qbench import modes
from qbench.cache import code_digest
from qbench.data.base import digest_arrays
from qbench.errors import NotApplicable
from qbench.quantizers.base import BACKENDS, Backend
from qbench.repair.inputs import RepairInputs
from qbench.versions import installed


@BACKENDS.register
class BudgetBackend(Backend):
    id = "budget"
    description = "a lossy mode with its worst layers kept at higher precision until it meets the quality budget"

    def starts_from(self, mode) -> str:
        return mode.base

    def _base(self, mode):
        base = modes.get(mode.base)
        return base, BACKENDS.get(base.backend)

    def check(self, inputs: RepairInputs, mode) -> None:
        base, backend = self._base(mode)
        backend.check(inputs, base)
        if not inputs.task.budgets:
            raise NotApplicable(f"{inputs.task.id} has no quality budget to search for", "use the lossy mode")

    def size_reference(self, inputs: RepairInputs, mode) -> bytes:
        base, backend = self._base(mode)
        return backend.size_reference(inputs, base)

    def key(self, inputs: RepairInputs, mode) -> dict[str, Any]:
        from qbench.repair import explainer, search

        base, backend = self._base(mode)
        data = inputs.eval_set()
        return {
            "backend": self.id,
            "base": backend.key(inputs, base),
            "mode": mode.id,
            "keep": list(base.keep),
            "target": search.target_of(inputs.task, inputs.settings, base.family),
            "floors": inputs.floors,
            "devices": list(search.SEARCH_DEVICES),
            "eval": digest_arrays("eval", data.x, data.y),
            "explain": {"samples": explainer.SAMPLES, "code": explainer.code()},
            "search": code_digest(search),
            "litert": installed("ai-edge-litert"),
        }

    def build(self, inputs: RepairInputs, mode, path) -> dict[str, Any]:
        from qbench.repair.search import Search

        search = Search(inputs, mode)
        data = search.run()
        path.write_bytes(data)
        record = search.record()
        return {"model": inputs.model_id, "mode": mode.id, "base": mode.base, "kept_layers": record["kept_layers"],
                "kept_outputs": kept_outputs(data, inputs.reference_bytes(mode.base), record["kept_layers"]),
                "budget_search": record, "build_versions": inputs.artifact(mode.base).manifest.get(
                    "build_versions", {})}


def kept_outputs(artifact: bytes, reference: bytes, kept: dict[str, str]) -> list[str]:
    """The artifact's names of the kept layers' outputs (``kept`` names them as the float model does; a mode may
    rename an output it puts a QUANTIZE behind): what ``qbench.contracts`` exempts."""
    from qbench.repair.twins import counterparts
    from qbench.tflite_file import TfliteModel

    model, float_model = TfliteModel(artifact, "budget artifact"), TfliteModel(reference, "float model")
    names = {float_model.tensors[f].name: model.tensors[q].name for q, f in counterparts(model, float_model).items()}
    return sorted(names.get(name, name) for name in kept)

