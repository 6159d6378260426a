"""The ``budget`` backend: a ``<mode>+budget`` artifact is its lossy mode with the fewest worst layers kept wider.

It builds nothing itself: the search (``qbench.explain.search``) asks the lossy mode's backend for variants with
layers kept at higher precision (``Backend.keeper``) and keeps the first that meets the quality budget. The cache
key is the lossy mode's key plus everything the search reads: the evaluation data, the budget, the devices it
judges on, the explained samples and its own code. The manifest carries the search: ``kept_layers`` (the float
model's output tensor name -> precision; ``qbench.size`` sizes them), ``kept_outputs`` (the same layers' outputs as
the artifact names them; the contract exempts them) and ``budget_search`` (every step).
"""

from __future__ import annotations

from typing import Any

from qbench import modes, quantizers
from qbench.cache import code_digest
from qbench.data.base import digest_arrays
from qbench.errors import NotApplicable
from qbench.quantizers.base import Backend
from qbench.versions import installed


class BudgetBackend(Backend):
    id = "budget"
    description = "a lossy mode with its worst layers kept at higher precision until it meets the quality budget"

    def _base(self, mode):
        base = modes.get(mode.base)
        return base, quantizers.get(base.backend)

    def check(self, ws, model_id, mode) -> None:
        base, backend = self._base(mode)
        backend.check(ws, model_id, base)
        if not ws.task(model_id).budgets:
            raise NotApplicable(f"{ws.task(model_id).id} has no quality budget to search for", "use the lossy mode")

    def key(self, ws, model_id, mode) -> dict[str, Any]:
        from qbench.explain import cached, search

        base, backend = self._base(mode)
        data = ws.eval_set(model_id)
        return {
            "backend": self.id,
            "base": backend.key(ws, model_id, base),
            "mode": mode.id,
            "keep": list(base.keep),
            "target": search.target_of(ws, model_id, base.family),
            "floors": ws.model(model_id).floors_for(ws),
            "devices": list(search.SEARCH_DEVICES),
            "eval": digest_arrays("eval", data.x, data.y),
            "explain": {"samples": cached.SAMPLES, "code": cached.code()},
            "search": code_digest(search),
            "litert": installed("ai-edge-litert"),
        }

    def build(self, ws, model_id, mode, path) -> dict[str, Any]:
        from qbench.explain.search import Search

        search = Search(ws, model_id, mode)
        data = search.run()
        path.write_bytes(data)
        record = search.record()
        return {"model": model_id, "mode": mode.id, "base": mode.base, "kept_layers": record["kept_layers"],
                "kept_outputs": kept_outputs(data, ws.float_reference(model_id, mode.base), record["kept_layers"]),
                "budget_search": record, "build_versions": ws.tflite(model_id, mode.base).manifest.get(
                    "build_versions", {})}


def kept_outputs(artifact: bytes, reference: bytes, kept: dict[str, str]) -> list[str]:
    """The artifact's names of the kept layers' outputs (``kept`` names them as the float model does; a mode may
    rename an output it puts a QUANTIZE behind): what ``qbench.contracts`` exempts."""
    from qbench.explain.twins import counterparts
    from qbench.tflite_file import TfliteModel

    model, float_model = TfliteModel(artifact, "budget artifact"), TfliteModel(reference, "float model")
    names = {float_model.tensors[f].name: model.tensors[q].name for q, f in counterparts(model, float_model).items()}
    return sorted(names.get(name, name) for name in kept)


BACKEND = BudgetBackend()
