"""Drawing a scene's layout from the layout stream of its seed (resolution independent).

Every value is drawn in a fixed order from one generator: reordering, adding or dropping a draw changes every
frame after it (the frames are pinned by digest in tests/fast/test_scenes_frames.py).
"""

from __future__ import annotations

import numpy as np

from qbench.data.scenes.classes import SIDEWALK, TERRAIN
from qbench.data.scenes.layout import (
    BLOCK_BUILDING, BLOCK_FENCE, BLOCK_WALL, Blocks, Camera, Dashes, Ground, Haze, Hood, Lighting, Photo, Scene, Sky,
    Street, Strip,
)
from qbench.data.scenes.palette import BUILDING_COLOURS, CAR_COLOURS, PAVING, pick
from qbench.data.scenes.placement import sample_objects


def sample_scene(rng: np.random.Generator) -> Scene:
    """The whole layout: camera, street, facades, surfaces, sky, lighting, camera response, bonnet, objects."""
    # camera: focal length in image heights, horizon/vanishing point in normalised coordinates
    camera = Camera(f=rng.uniform(1.5, 2.1), hc=rng.uniform(1.2, 1.7), v_h=rng.uniform(0.36, 0.47),
                    u_v=rng.uniform(0.42, 0.58))
    street = _sample_street(rng)
    blocks = (_sample_blocks(rng, street.z_end), _sample_blocks(rng, street.z_end))
    far = _sample_blocks(rng, street.z_end, along=False)
    # surfaces
    a = rng.uniform(55, 125)
    asphalt = np.array([a, a * rng.uniform(0.92, 1.02), a * rng.uniform(0.98, 1.15)], np.float32)
    paving = pick(rng, PAVING, 10)
    tile = rng.uniform(0.3, 0.8)
    grass = np.array([rng.uniform(70, 130), rng.uniform(110, 160), rng.uniform(40, 80)], np.float32)
    earth = np.array([rng.uniform(110, 150), rng.uniform(90, 120), rng.uniform(60, 85)], np.float32)
    dashes = Dashes(rng.uniform(8.0, 14.0), rng.uniform(2.5, 5.0), rng.uniform(0.0, 10.0))
    crosswalk = rng.uniform(8.0, 30.0) if rng.random() < 0.3 else None
    overcast = rng.random() < 0.4
    if overcast:
        g = rng.uniform(150, 225)
        sky_top = np.array([g, g, g * rng.uniform(1.0, 1.08)], np.float32)
        sky_hor = np.minimum(sky_top * rng.uniform(1.0, 1.12), 250)
    else:
        sky_top = np.array([rng.uniform(40, 110), rng.uniform(100, 160), rng.uniform(170, 235)], np.float32)
        sky_hor = np.array([rng.uniform(160, 215), rng.uniform(190, 225), rng.uniform(215, 245)], np.float32)
    sky = Sky(overcast, sky_top, sky_hor, clouds=rng.random((5, 11)), cloud_amount=rng.uniform(0.0, 0.9))
    ground = Ground(asphalt, paving, tile, grass, earth, dashes, crosswalk, texture=rng.random((6, 11)))
    facade_texture = rng.random((6, 11))
    lighting = Lighting(
        sun_side=int(rng.choice([-1, 1])),
        shadow_k=0.0 if overcast else rng.uniform(0.2, 1.0),
        shadow_dark=rng.uniform(0.45, 0.7),
        shade_side=1.0 if overcast else rng.uniform(0.6, 0.85),
    )
    photo = Photo(
        gain=rng.uniform(0.6, 1.35),
        wb=np.array([rng.uniform(0.85, 1.15), 1.0, rng.uniform(0.85, 1.15)], np.float32),
        tone=rng.uniform(-0.35, 0.35),
        haze=Haze(rng.uniform(0.0, 0.6), rng.uniform(40.0, 300.0)),
        vignette=rng.uniform(0.0, 0.35),
        noise=rng.uniform(1.0, 5.0),
        blur=rng.random() < 0.5,
    )
    hood = Hood(rng.uniform(0.05, 0.12), pick(rng, CAR_COLOURS, 8)) if rng.random() < 0.35 else None
    objects = sample_objects(rng, street, crosswalk)
    return Scene(camera, street, blocks, far, facade_texture, ground, sky, lighting, photo, hood, objects)


def _sample_street(rng: np.random.Generator) -> Street:
    """The street's cross-section (camera at X=0): road, then strips out to the facades; and its length."""
    lanes_l = int(rng.integers(1, 3))
    lanes_r = int(rng.integers(1, 3))
    lane_w = rng.uniform(3.0, 3.6)
    off = rng.uniform(-0.8, 0.8)
    road_l = lanes_l * lane_w - lane_w / 2 - off + rng.uniform(0.0, 2.5)  # distance to the left kerb
    road_r = lanes_r * lane_w - lane_w / 2 + off + rng.uniform(0.0, 2.5)
    centre_yellow = rng.random() < 0.25
    strips = []
    for side in (-1, 1):
        sw = rng.uniform(1.5, 5.0)
        verge = rng.uniform(1.0, 3.5) if rng.random() < 0.4 else 0.0
        verge_first = rng.random() < 0.5
        order = [(TERRAIN, verge), (SIDEWALK, sw)] if verge_first else [(SIDEWALK, sw), (TERRAIN, verge)]
        strips.append(tuple(Strip(c, w) for c, w in order if w > 0))
    facade_x = (-road_l - sum(s.width for s in strips[0]), road_r + sum(s.width for s in strips[1]))
    return Street(kerbs=(-road_l, road_r), lane_w=lane_w, lane_off=off, lanes=(lanes_l, lanes_r),
                  centre_yellow=centre_yellow, strips=(strips[0], strips[1]), facade_x=facade_x,
                  z_end=rng.uniform(70.0, 260.0))


def _sample_blocks(rng: np.random.Generator, z_end: float, along: bool = True) -> Blocks:
    """Facade blocks along a street side (``along``) or across the street end."""
    edges, kind, h_top, h_low, col, col2, win = [0.0 if along else -80.0], [], [], [], [], [], []
    stop = z_end if along else 80.0
    pos = edges[0]
    while pos < stop:
        k = int(rng.choice(4, p=[0.5, 0.2, 0.15, 0.15])) if along else int(rng.choice(2, p=[0.7, 0.3]))
        length = rng.uniform(8.0, 32.0) if along else rng.uniform(6.0, 25.0)
        pos += length
        edges.append(pos)
        kind.append(k)
        if k == BLOCK_BUILDING:
            h_top.append(rng.uniform(7.0, 32.0))
            h_low.append(rng.uniform(3.0, 4.5))  # ground-floor height
            col.append(pick(rng, BUILDING_COLOURS, 14.0))
        else:  # vegetation crown above, possibly a wall or fence below
            h_top.append(rng.uniform(3.0, 13.0))
            h_low.append(rng.uniform(1.0, 2.4) if k in (BLOCK_WALL, BLOCK_FENCE) else 0.0)
            col.append(np.array([rng.uniform(40, 90), rng.uniform(70, 130), rng.uniform(20, 60)], np.float32))
        col2.append(
            pick(rng, BUILDING_COLOURS, 20.0)
            if k == BLOCK_WALL
            else np.array([rng.uniform(60, 180)] * 3, np.float32) * np.array([1.0, rng.uniform(0.9, 1.1), 1.0], np.float32)
        )
        # window grid: period along, period up, fill fractions, offset, glass tint
        win.append(
            (
                rng.uniform(2.5, 4.5), rng.uniform(2.8, 3.6), rng.uniform(0.35, 0.65), rng.uniform(0.35, 0.6),
                rng.uniform(0.0, 3.0), rng.uniform(0.0, 1.0),
            )
        )
    return Blocks(
        edges=np.array(edges),
        kind=np.array(kind, np.int64),
        h_top=np.array(h_top),
        h_low=np.array(h_low),
        col=np.array(col, np.float32),
        col2=np.array(col2, np.float32),
        windows=np.array(win, np.float64),
        tree_grid=rng.uniform(-1.0, 1.0, int((stop - edges[0]) / 1.5) + 3),
        tree_step=1.5,
    )
