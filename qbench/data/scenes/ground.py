"""The ground plane up to the street end: asphalt with lane markings and a zebra crossing, paved sidewalks
with kerbs, grass verges, and the shadows the sun-side facades cast across them."""

from __future__ import annotations

import numpy as np

from qbench.data.scenes.canvas import Canvas
from qbench.data.scenes.classes import ROAD, SIDEWALK, TERRAIN
from qbench.data.scenes.layout import Scene
from qbench.data.scenes.noise import interp_grid


def draw_ground(cv: Canvas, scene: Scene, r0: int, Zr: np.ndarray, Xg: np.ndarray) -> None:
    """Rows ``r0`` on: ``Zr`` (h,) is each row's depth, ``Xg`` (h, W) each pixel's lateral position."""
    W = cv.W
    street, ground, lighting = scene.street, scene.ground, scene.lighting
    rl, rr = street.kerbs
    # class per pixel from the cross-section strips: (left boundary, class) in increasing X
    bounds, classes = [rl], [ROAD]
    x = rl
    for strip in street.strips[0]:  # outward from the left kerb
        x -= strip.width
        bounds.insert(0, x)
        classes.insert(0, strip.cls)
    x = rr
    for strip in street.strips[1]:  # outward from the right kerb
        bounds.append(x)
        classes.append(strip.cls)
        x += strip.width
    k = np.zeros(Xg.shape, np.uint8)
    for edge in bounds[1:]:
        k += Xg >= np.float32(edge)
    cls = np.array(classes, np.uint8)[k]
    Zc = Zr[:, None]  # (h, 1): depth is constant along a row
    lo = interp_grid(ground.texture, cv.H, W)[r0:]
    nh = cv.nh[r0:]
    nm = cv.nm[r0:]
    fade = 1.0 / (1.0 + Zr / np.float32(25.0))  # (h,) fades fine texture with distance (aliasing)

    img = ground.asphalt[None, None, :] * ((1.0 + 0.12 * (lo - 0.5)) * (1.0 + 0.06 * nh))[:, :, None]
    road = cls == ROAD
    # lane markings (paint): dashed between lanes, solid near the kerbs, optional zebra crossing
    period, dash, phase = ground.dashes.period, ground.dashes.length, ground.dashes.phase
    lane_w, off = street.lane_w, street.lane_off
    lanes_l, lanes_r = street.lanes
    dashed = (((Zr + np.float32(phase)) % np.float32(period)) < dash)[:, None]
    half = np.float32(0.07)
    paint = (np.abs(Xg - np.float32(rl + 0.3)) < half) | (np.abs(Xg - np.float32(rr - 0.3)) < half)
    for i in range(-lanes_l + 1, lanes_r):
        xb = off - lane_w / 2 + i * lane_w
        if rl + 1.0 < xb < rr - 1.0:
            on = np.abs(Xg - np.float32(xb)) < half
            if not (i == 0 and lanes_l > 1 and street.centre_yellow):
                on &= dashed
            paint |= on
    if ground.crosswalk is not None:
        zc = ground.crosswalk
        rows = (Zr > zc) & (Zr < zc + 3.5)
        if rows.any():
            paint[rows] |= ((Xg[rows] - np.float32(rl)) % np.float32(1.0)) < 0.5
    paint &= road
    pcol = np.array([235, 205, 60] if street.centre_yellow else [225, 225, 220], np.float32)
    img[paint] = pcol * (0.8 + 0.2 * lo[paint])[:, None]

    side = cls == SIDEWALK
    if side.any():
        tile = np.float32(ground.tile)
        lw = np.float32(0.1) * tile
        gz = ((Zr % tile) < lw)[:, None]
        dark = np.float32(1.0) - np.float32(0.25) * fade[:, None] * (((Xg % tile) < lw) | gz)
        kerb = (np.abs(Xg - np.float32(rl)) < 0.2) | (np.abs(Xg - np.float32(rr)) < 0.2)
        shade = (1.0 + 0.1 * (lo - 0.5) + 0.05 * nh) * dark * np.where(kerb, np.float32(1.12), np.float32(1.0))
        img[side] = ground.paving[None, :] * shade[side][:, None]

    terr = cls == TERRAIN
    if terr.any():
        mix = np.clip(0.5 + 0.8 * nm[terr] + 0.3 * (lo[terr] - 0.5), 0, 1)[:, None]
        img[terr] = (ground.grass * mix + ground.earth * (1 - mix)) * (1.0 + 0.12 * nh[terr])[:, None]

    # cast shadows of the sun-side facades across the ground
    if lighting.shadow_k > 0:
        blocks = scene.blocks[0 if lighting.sun_side < 0 else 1]
        _, top = blocks.heights(Zr.astype(np.float64), 0.5)
        reach = lighting.shadow_k * top  # (h,) metres from the facade line
        xf = street.facade_x[0 if lighting.sun_side < 0 else 1]
        if lighting.sun_side < 0:
            sh = Xg < (xf + reach).astype(np.float32)[:, None]
        else:
            sh = Xg > (xf - reach).astype(np.float32)[:, None]
        img[sh] *= np.float32(lighting.shadow_dark)

    cv.img[r0:] = img
    cv.lab[r0:] = cls
    cv.depth[r0:] = Zc
