"""Frozen GraphDefs (the thesis's DeepLab ships as one): check the named input/output arrays before converting.

The converter's own error for a wrong array name is a stack trace; this names the arrays that do exist.
Build stage only (it parses the GraphDef with TensorFlow's protobuf classes).
"""

from __future__ import annotations

from pathlib import Path

from qbench.errors import QbenchError


def check_frozen_graph(path: Path, inputs: list[str], outputs: list[str], has_shape: bool) -> None:
    """Fail with the names that do exist when the named arrays are not in the graph (the converter's own
    error is a stack trace), and when the input's shape is unknown and no shape= was given."""
    from google.protobuf.message import DecodeError

    from qbench.tf import tensorflow

    graph = tensorflow().compat.v1.GraphDef()
    try:
        graph.ParseFromString(path.read_bytes())
    except DecodeError:
        graph.Clear()
    nodes = {n.name: n for n in graph.node}
    if not nodes:
        raise QbenchError(
            f"{path} is not a frozen GraphDef (no nodes)", "export the graph with tf.io.write_graph(..., as_text=False)"
        )
    consumed = {i.lstrip("^").split(":")[0] for n in graph.node for i in n.input}
    candidates = {
        "input": [n.name for n in graph.node if n.op == "Placeholder"],
        "output": [n.name for n in graph.node if n.name not in consumed and n.op not in ("Const", "NoOp")],
    }
    kind_name = {"input": "placeholders", "output": "unconsumed nodes"}
    for kind, names in (("input", inputs), ("output", outputs)):
        missing = [a for a in names if a.split(":")[0] not in nodes]
        if missing:
            what, shown = (kind_name[kind], candidates[kind]) if candidates[kind] else ("nodes", list(nodes))
            raise QbenchError(
                f"frozen graph {path.name} has no {kind} array {', '.join(missing)}; "
                f"{what} that exist: {', '.join(shown[:8])}",
                f"set {kind}s= to an existing node name (a viewer such as Netron shows them all)",
            )
    for name in [] if has_shape else inputs:
        node = nodes[name.split(":")[0]]
        dims = node.attr["shape"].shape if "shape" in node.attr else None
        # only a placeholder must say its shape; an intermediate input (thesis: sub_7) has it inferred
        if node.op == "Placeholder" and (dims is None or dims.unknown_rank or any(d.size < 0 for d in dims.dim[1:])):
            raise QbenchError(
                f"input {name} of {path.name} has no fully known shape", "add shape=NxHxWxC (e.g. shape=1x256x512x3)"
            )
