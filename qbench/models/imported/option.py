"""``--qbench-model ID=PATH[,KEY=VALUE...]``: a user's model joins the matrix under its own id.

Syntax (one model per option; repeat the option for more)::

    ID        the model's id in test ids and results: letters, digits and _ . - (not a built-in id)
    PATH      the model file; a SavedModel is its directory. PATH may contain commas, but not ",word=".
    dataset=  what it is evaluated and calibrated on (required): mnist | cityscapes | idx:DIR | npz:FILE |
              images:DIR | masks:DIR | inputs:DIR|FILE (qbench.data.DATASETS; README: Bring your own model)
    format=   keras | saved_model | frozen_graph | tflite (default: recognised from the file)
    task=     classification | segmentation | fidelity (default: the dataset's; fidelity fits any dataset)
    inputs=   frozen graphs: the input array, e.g. sub_7 (required for frozen graphs)
    outputs=  frozen graphs: the output array, e.g. ResizeBilinear_2 (required for frozen graphs)
    shape=    input shape NxHxWxC: for frozen graphs whose placeholder's shape is not fully known (passed as
              input_shapes), and the size Cityscapes frames are read at; other models' own input shape rules
    range=    LO:HI, the float range uint8 pixels are mapped to (default: the dataset's, e.g. idx 0:1, images 0:255;
              DeepLab's preprocessed input ``sub_7`` is in -1:1)

Parsing never imports TensorFlow (the run stage has none).
"""

from __future__ import annotations

import re

from qbench.data import choices
from qbench.errors import QbenchError
from qbench.models.imported.spec import ImportedModel

KEYS = ("dataset", "format", "task", "inputs", "outputs", "shape", "range")
SYNTAX = "ID=PATH,dataset=KIND[:PATH][,format=...][,task=...][,inputs=NAME,outputs=NAME][,shape=NxHxWxC][,range=LO:HI]"


def _valid(text: str, key: str, pattern: str) -> str:
    if not re.fullmatch(pattern, text):
        raise QbenchError(f"{key}={text} is not valid", f"write {key}= like this: {SYNTAX}")
    return text


def parse_model_option(text: str) -> ImportedModel:
    """``ID=PATH[,KEY=VALUE...]`` (see the module docstring) -> ImportedModel; imports no TensorFlow."""
    head, *items = re.split(r",(?=\w+=)", text.strip())
    model_id, sep, path = head.partition("=")
    if not sep or not model_id or not path:
        raise QbenchError(f"model option {text!r} does not start with ID=PATH", f"write {SYNTAX}")
    opts: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        if key not in KEYS:
            raise QbenchError(f"model option {model_id}: unknown key {key!r}", f"use {', '.join(KEYS)}")
        if key in opts or not value:
            problem = "repeated" if key in opts else "empty"
            raise QbenchError(f"model option {model_id}: {key}= is {problem}", f"write {SYNTAX}")
        opts[key] = value
    if "dataset" not in opts:
        raise QbenchError(f"model option {model_id}: no dataset=", f"say what it is evaluated on: dataset={choices()}")
    for key in ("inputs", "outputs"):
        if "," in opts.get(key, ""):
            raise QbenchError(f"model option {model_id}: {key}={opts[key]} names several arrays",
                              "a frozen graph is imported with one input and one output array (other formats keep all their outputs)")
    shape = opts.get("shape") and tuple(map(int, _valid(opts["shape"], "shape", r"[1-9]\d*(x[1-9]\d*)*").split("x")))
    num = r"-?\d+(\.\d*)?"
    span = opts.get("range") and tuple(map(float, _valid(opts["range"], "range", f"{num}:{num}").split(":")))
    return ImportedModel(
        model_id,
        path,
        dataset=opts["dataset"],
        format=opts.get("format"),
        task=opts.get("task"),
        input_arrays=[opts["inputs"]] if "inputs" in opts else None,
        output_arrays=[opts["outputs"]] if "outputs" in opts else None,
        input_shape=shape or None,
        input_range=span or None,
    )
