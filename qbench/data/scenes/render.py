"""From a layout to a frame: the background, the objects back to front (each shaded by the facades' cast
shadows where it stands), then the camera's response (haze, exposure, white balance, vignetting, tone curve,
blur, sensor noise) with pixel noise drawn from the frame's second random stream."""

from __future__ import annotations

from typing import Callable

import numpy as np

from qbench.data.scenes.background import draw_background
from qbench.data.scenes.canvas import Canvas
from qbench.data.scenes.furniture import draw_gantry, draw_pole, draw_tree
from qbench.data.scenes.layout import Gantry, ParkedBicycle, Pedestrian, Pole, Rider, Scene, Tree, Vehicle
from qbench.data.scenes.noise import unit_noise
from qbench.data.scenes.people import draw_parked_bicycle, draw_pedestrian, draw_rider
from qbench.data.scenes.vehicles import draw_vehicle

_DRAW = {
    Vehicle: draw_vehicle,
    Pedestrian: draw_pedestrian,
    Rider: draw_rider,
    ParkedBicycle: draw_parked_bicycle,
    Pole: draw_pole,
    Gantry: draw_gantry,
    Tree: draw_tree,
}


def render(scene: Scene, H: int, W: int, prng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(image uint8 HxWx3, label uint8 HxW)`` of ``scene``; ``prng`` draws the texture and sensor noise."""
    cv = Canvas(scene.camera, H, W, prng)
    draw_background(cv, scene)
    shadow = _shadow_fn(scene)
    for obj in scene.objects:
        _DRAW[type(obj)](cv, obj, shadow)
    return _finish(cv, scene, prng)


def _shadow_fn(scene: Scene) -> Callable[[float, float], float]:
    """Shade factor for an object standing at (X, Z): cast shadows of the sun-side facades."""
    lighting = scene.lighting
    if lighting.shadow_k <= 0:
        return lambda x, z: 1.0
    blocks = scene.blocks[0 if lighting.sun_side < 0 else 1]
    xf = scene.street.facade_x[0 if lighting.sun_side < 0 else 1]

    def shade(x, z):
        _, top = blocks.heights(np.array([z]), 0.5)
        reach = lighting.shadow_k * float(top[0])
        inside = x < xf + reach if lighting.sun_side < 0 else x > xf - reach
        return lighting.shadow_dark if inside else 1.0

    return shade


def _finish(cv: Canvas, scene: Scene, prng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    photo = scene.photo
    H, W = cv.H, cv.W
    img = cv.img
    # haze toward the horizon colour with distance (rational, no exp)
    hmax, zf = photo.haze.amount, photo.haze.half_depth
    if hmax > 0:
        z = np.minimum(cv.depth, np.float32(1e4))
        a = (np.float32(hmax) * z / (z + np.float32(zf)))[:, :, None]
        img += (scene.sky.horizon * np.float32(0.95) - img) * a
    # exposure and white balance, with vignetting
    mult = np.float32(photo.gain / 255.0) * photo.wb
    if photo.vignette > 0:
        u = ((np.arange(W) + 0.5) / W - 0.5) * 2.0
        v = ((np.arange(H) + 0.5) / H - 0.5) * 2.0
        vig = (1.0 - photo.vignette * 0.5 * (u[None, :] ** 2 + v[:, None] ** 2)).astype(np.float32)
        img *= vig[:, :, None] * mult
    else:
        img *= mult
    np.clip(img, 0.0, 1.0, out=img)
    # tone curve x * (1 + k (1 - x)), then back to 0..255
    k = np.float32(photo.tone)
    img *= (np.float32(255.0) * (1.0 + k)) - (np.float32(255.0) * k) * img
    if photo.blur:
        p = np.pad(img, ((1, 1), (1, 1), (0, 0)), mode="edge")
        img = p[:-2] + p[2:] + 2.0 * p[1:-1]
        img = (img[:, :-2] + img[:, 2:] + 2.0 * img[:, 1:-1]) * np.float32(0.0625)
    img += unit_noise(prng, img.shape) * np.float32(photo.noise)
    np.rint(img, out=img)
    np.clip(img, 0, 255, out=img)
    return img.astype(np.uint8), cv.lab
