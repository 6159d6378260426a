"""The trainIds the renderer paints, by name: read from the Cityscapes class table, never retyped."""

from __future__ import annotations

from qbench.data.labels import class_names

#: The 19 Cityscapes train classes, indexed by trainId.
CLASS_NAMES: tuple[str, ...] = class_names()

_C = {name: i for i, name in enumerate(CLASS_NAMES)}
ROAD, SIDEWALK, BUILDING, WALL, FENCE = (_C[k] for k in ("road", "sidewalk", "building", "wall", "fence"))
POLE, LIGHT, SIGN, VEGETATION, TERRAIN = (
    _C[k] for k in ("pole", "traffic light", "traffic sign", "vegetation", "terrain")
)
SKY, PERSON, RIDER, CAR, TRUCK, BUS = (_C[k] for k in ("sky", "person", "rider", "car", "truck", "bus"))
BICYCLE = _C["bicycle"]
