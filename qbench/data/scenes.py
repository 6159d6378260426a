"""Procedural Cityscapes-style street scenes with exact per-pixel trainId labels.

A scene is a pinhole view down a street: a perspective road with lane markings, kerbs,
sidewalks and grass verges, facades on both sides (buildings with windows, vegetation,
walls, fences) closed by a far facade, sky with clouds, and objects standing on the
ground plane drawn back to front: poles with traffic signs, traffic lights and lamps,
trees, cars, trucks, buses, pedestrians, cyclists (rider on a bicycle), parked bicycles. Colours, textures, sun/overcast lighting with cast
shadows, haze, exposure, white balance, tone curve, vignetting, blur and sensor noise are
drawn per seed, and object colours deliberately overlap across classes (grey cars on
grey roads under grey skies...), so a per-pixel colour lookup does not solve the task:
shape and context are needed.

Labels are Cityscapes trainIds 0..18 (``CLASS_NAMES``, from
``cityscapesscripts.helpers.labels``); 255 (``IGNORE``) marks the ego-vehicle bonnet that
some frames show at the bottom. ``train`` and ``motorcycle`` are never drawn (too rare to
learn in a short training); the other 17 classes are.

The scene layout (camera, street, blocks, objects, colours) is drawn from the seed alone,
independently of the resolution, so the same seed renders the same scene at any size;
pixel noise is drawn from a second stream. Everything is deterministic bit for bit for a
given numpy version; per-pixel maths uses only + - * / comparisons and floor (no
transcendental functions), so results do not depend on SIMD math libraries.

Only numpy and the class table of cityscapesscripts are needed (no TensorFlow).
"""

from __future__ import annotations

import math

import numpy as np

from qbench.data.labels import IGNORE, NUM_CLASSES, class_names

__all__ = [
    "CLASS_NAMES",
    "NUM_CLASSES",
    "IGNORE",
    "SPLITS",
    "generate",
    "make_split",
    "split_seeds",
    "class_pixel_counts",
]

#: The 19 Cityscapes train classes, indexed by trainId.
CLASS_NAMES: tuple[str, ...] = class_names()

_C = {name: i for i, name in enumerate(CLASS_NAMES)}
ROAD, SIDEWALK, BUILDING, WALL, FENCE = (_C[k] for k in ("road", "sidewalk", "building", "wall", "fence"))
POLE, LIGHT, SIGN, VEGETATION, TERRAIN = (
    _C[k] for k in ("pole", "traffic light", "traffic sign", "vegetation", "terrain")
)
SKY, PERSON, RIDER, CAR, TRUCK, BUS = (_C[k] for k in ("sky", "person", "rider", "car", "truck", "bus"))
BICYCLE = _C["bicycle"]

#: Seed ranges of the splits: split ``s`` uses seeds ``SPLITS[s] + i`` for ``0 <= i < 10**8``,
#: so train, calibration and eval frames never coincide.
SPLITS: dict[str, int] = {"train": 0, "calibration": 100_000_000, "eval": 200_000_000}
_SPLIT_SPAN = 100_000_000


# --------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------


def generate(seed: int, height: int = 256, width: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Render scene ``seed``: ``(image uint8 HxWx3 RGB, label uint8 HxW trainIds / 255)``."""
    if height < 16 or width < 16:
        raise ValueError(f"image too small: {height}x{width} (need at least 16x16)")
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    layout_ss, pixel_ss = np.random.SeedSequence(seed).spawn(2)
    scene = _sample_scene(np.random.default_rng(layout_ss))
    return _render(scene, int(height), int(width), np.random.default_rng(pixel_ss))


def split_seeds(split: str, n: int, start: int = 0) -> np.ndarray:
    """Seeds of frames ``start .. start+n-1`` of ``split`` ('train', 'calibration' or 'eval')."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {sorted(SPLITS)}")
    if n < 0 or start < 0 or start + n > _SPLIT_SPAN:
        raise ValueError(f"frames {start}..{start + n} out of range for a split (max {_SPLIT_SPAN})")
    return SPLITS[split] + start + np.arange(n, dtype=np.int64)


def make_split(
    split: str, n: int, height: int = 256, width: int = 512, start: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``start .. start+n-1`` of a split: ``(images uint8 NxHxWx3, labels uint8 NxHxW)``."""
    seeds = split_seeds(split, n, start)
    images = np.empty((n, height, width, 3), np.uint8)
    labels = np.empty((n, height, width), np.uint8)
    for i, s in enumerate(seeds):
        images[i], labels[i] = generate(int(s), height, width)
    return images, labels


def class_pixel_counts(labels: np.ndarray) -> np.ndarray:
    """Pixels per trainId (length 19) over any array of labels; ignore is not counted."""
    counts = np.bincount(np.asarray(labels, np.uint8).ravel(), minlength=256)
    return counts[:NUM_CLASSES]


# --------------------------------------------------------------------------------------
# scene sampling (resolution independent)
# --------------------------------------------------------------------------------------

_BUILDING_COLOURS = np.array(
    [
        (150, 140, 125), (175, 165, 150), (200, 190, 170), (120, 115, 110), (95, 92, 90),
        (160, 95, 75), (135, 80, 65), (205, 180, 130), (180, 175, 180), (120, 130, 140),
        (215, 210, 200), (145, 150, 120), (170, 120, 95), (110, 100, 120), (190, 150, 150),
    ],
    np.float32,
)
_CAR_COLOURS = np.array(
    [
        (200, 200, 205), (30, 30, 35), (120, 122, 128), (160, 162, 165), (20, 40, 90),
        (150, 25, 25), (230, 230, 228), (60, 70, 60), (95, 60, 40), (40, 80, 140),
        (180, 160, 120), (90, 90, 95), (210, 180, 40), (60, 30, 70), (100, 130, 110),
    ],
    np.float32,
)
_CLOTH_COLOURS = np.array(
    [
        (30, 30, 35), (200, 200, 200), (70, 80, 120), (150, 40, 40), (40, 90, 60),
        (120, 100, 80), (180, 150, 90), (90, 90, 95), (200, 120, 60), (60, 50, 90),
        (150, 160, 170), (210, 190, 60), (120, 30, 80), (40, 60, 100), (110, 110, 60),
    ],
    np.float32,
)
_SKIN = np.array([(230, 190, 160), (200, 150, 110), (150, 100, 70), (100, 70, 50), (240, 205, 180)], np.float32)
_HAIR = np.array([(30, 25, 20), (90, 60, 35), (170, 140, 90), (120, 120, 120), (60, 30, 20)], np.float32)


def _pick(rng, palette, jitter=12.0):
    c = palette[rng.integers(len(palette))] + rng.normal(0.0, jitter, 3)
    return np.clip(c, 5, 250).astype(np.float32)


def _sample_blocks(rng, z_end, along=True):
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
        if k == 0:  # building
            h_top.append(rng.uniform(7.0, 32.0))
            h_low.append(rng.uniform(3.0, 4.5))  # ground-floor height
            col.append(_pick(rng, _BUILDING_COLOURS, 14.0))
        else:  # vegetation crown above, possibly a wall or fence below
            h_top.append(rng.uniform(3.0, 13.0))
            h_low.append(rng.uniform(1.0, 2.4) if k in (2, 3) else 0.0)
            col.append(np.array([rng.uniform(40, 90), rng.uniform(70, 130), rng.uniform(20, 60)], np.float32))
        col2.append(
            _pick(rng, _BUILDING_COLOURS, 20.0)
            if k == 2
            else np.array([rng.uniform(60, 180)] * 3, np.float32) * np.array([1.0, rng.uniform(0.9, 1.1), 1.0], np.float32)
        )
        # window grid: period along, period up, fill fractions, offset, glass tint
        win.append(
            (
                rng.uniform(2.5, 4.5), rng.uniform(2.8, 3.6), rng.uniform(0.35, 0.65), rng.uniform(0.35, 0.6),
                rng.uniform(0.0, 3.0), rng.uniform(0.0, 1.0),
            )
        )
    return {
        "edges": np.array(edges),
        "kind": np.array(kind, np.int64),
        "h_top": np.array(h_top),
        "h_low": np.array(h_low),
        "col": np.array(col, np.float32),
        "col2": np.array(col2, np.float32),
        "win": np.array(win, np.float64),
        "tree_grid": rng.uniform(-1.0, 1.0, int((stop - edges[0]) / 1.5) + 3),
        "tree_step": 1.5,
    }


def _sample_scene(rng):
    S = {}
    # camera: focal length in image heights, horizon/vanishing point in normalised coordinates
    S["f"] = rng.uniform(1.5, 2.1)
    S["hc"] = rng.uniform(1.2, 1.7)
    S["v_h"] = rng.uniform(0.36, 0.47)
    S["u_v"] = rng.uniform(0.42, 0.58)
    # street cross-section (metres, camera at X=0): road, then strips out to the facades
    lanes_l = int(rng.integers(1, 3))
    lanes_r = int(rng.integers(1, 3))
    lane_w = rng.uniform(3.0, 3.6)
    off = rng.uniform(-0.8, 0.8)
    road_l = lanes_l * lane_w - lane_w / 2 - off + rng.uniform(0.0, 2.5)  # distance to the left kerb
    road_r = lanes_r * lane_w - lane_w / 2 + off + rng.uniform(0.0, 2.5)
    S["road"] = (-road_l, road_r)
    S["lane_w"], S["lane_off"] = lane_w, off
    S["lanes"] = (lanes_l, lanes_r)
    S["centre_yellow"] = rng.random() < 0.25
    strips = []
    for side in (-1, 1):
        sw = rng.uniform(1.5, 5.0)
        verge = rng.uniform(1.0, 3.5) if rng.random() < 0.4 else 0.0
        verge_first = rng.random() < 0.5
        order = [(TERRAIN, verge), (SIDEWALK, sw)] if verge_first else [(SIDEWALK, sw), (TERRAIN, verge)]
        strips.append([(c, w) for c, w in order if w > 0])
    S["strips"] = strips
    S["facade_x"] = (-road_l - sum(w for _, w in strips[0]), road_r + sum(w for _, w in strips[1]))
    S["z_end"] = rng.uniform(70.0, 260.0)
    S["blocks"] = (_sample_blocks(rng, S["z_end"]), _sample_blocks(rng, S["z_end"]))
    S["far"] = _sample_blocks(rng, S["z_end"], along=False)
    # surfaces
    a = rng.uniform(55, 125)
    S["asphalt"] = np.array([a, a * rng.uniform(0.92, 1.02), a * rng.uniform(0.98, 1.15)], np.float32)
    S["paving"] = _pick(rng, np.array([(170, 165, 160), (150, 140, 135), (185, 175, 150), (160, 110, 100), (125, 125, 130)], np.float32), 10)
    S["tile"] = rng.uniform(0.3, 0.8)
    S["grass"] = np.array([rng.uniform(70, 130), rng.uniform(110, 160), rng.uniform(40, 80)], np.float32)
    S["earth"] = np.array([rng.uniform(110, 150), rng.uniform(90, 120), rng.uniform(60, 85)], np.float32)
    S["dash"] = (rng.uniform(8.0, 14.0), rng.uniform(2.5, 5.0), rng.uniform(0.0, 10.0))
    S["crosswalk"] = rng.uniform(8.0, 30.0) if rng.random() < 0.3 else None
    S["overcast"] = rng.random() < 0.4
    if S["overcast"]:
        g = rng.uniform(150, 225)
        S["sky_top"] = np.array([g, g, g * rng.uniform(1.0, 1.08)], np.float32)
        S["sky_hor"] = np.minimum(S["sky_top"] * rng.uniform(1.0, 1.12), 250)
    else:
        S["sky_top"] = np.array([rng.uniform(40, 110), rng.uniform(100, 160), rng.uniform(170, 235)], np.float32)
        S["sky_hor"] = np.array([rng.uniform(160, 215), rng.uniform(190, 225), rng.uniform(215, 245)], np.float32)
    S["clouds"] = rng.random((5, 11))
    S["cloud_amt"] = rng.uniform(0.0, 0.9)
    S["ground_lo"] = rng.random((6, 11))
    S["facade_lo"] = rng.random((6, 11))
    # lighting
    S["sun_side"] = int(rng.choice([-1, 1]))  # side whose facades cast shadows on the street
    S["shadow_k"] = 0.0 if S["overcast"] else rng.uniform(0.2, 1.0)
    S["shadow_dark"] = rng.uniform(0.45, 0.7)
    S["shade_side"] = 1.0 if S["overcast"] else rng.uniform(0.6, 0.85)
    S["gain"] = rng.uniform(0.6, 1.35)
    S["wb"] = np.array([rng.uniform(0.85, 1.15), 1.0, rng.uniform(0.85, 1.15)], np.float32)
    S["tone"] = rng.uniform(-0.35, 0.35)
    S["haze"] = (rng.uniform(0.0, 0.6), rng.uniform(40.0, 300.0))
    S["vignette"] = rng.uniform(0.0, 0.35)
    S["noise"] = rng.uniform(1.0, 5.0)
    S["blur"] = rng.random() < 0.5
    S["hood"] = (rng.uniform(0.05, 0.12), _pick(rng, _CAR_COLOURS, 8)) if rng.random() < 0.35 else None
    S["objects"] = _sample_objects(rng, S)
    return S


def _free(occupied, key, z, length):
    for z0, z1 in occupied.setdefault(key, []):
        if z < z1 + 1.0 and z + length > z0 - 1.0:
            return False
    occupied[key].append((z, z + length))
    return True


def _sample_objects(rng, S):
    """Objects as (kind, Z, params); Z is the distance of the nearest face (for drawing order)."""
    objs = []
    rl, rr = S["road"]
    lane_w, off = S["lane_w"], S["lane_off"]
    lanes_l, lanes_r = S["lanes"]
    occupied = {}
    # lanes: centres of the lanes; left of the first boundary right of the camera lane traffic is oncoming
    centres = [off + lane_w * i for i in range(-(lanes_l - 1), lanes_r)]
    centres = [c for c in centres if rl + 1.2 < c < rr - 1.2]
    if not centres:
        centres = [0.5 * (rl + rr)]
    split_x = off - lane_w / 2 if lanes_l > 1 else rl  # lanes left of this carry oncoming traffic

    def vehicle(kind):
        if kind == CAR:
            w, h, ln = rng.uniform(1.65, 1.95), rng.uniform(1.35, 1.65), rng.uniform(3.9, 4.9)
        elif kind == TRUCK:
            w, h, ln = rng.uniform(2.2, 2.5), rng.uniform(2.8, 3.9), rng.uniform(6.0, 10.0)
        else:
            w, h, ln = 2.55, rng.uniform(2.9, 3.4), rng.uniform(10.5, 13.0)
        for _ in range(6):
            parked = kind != BUS and rng.random() < 0.35
            if parked:
                side = -1 if rng.random() < 0.5 else 1
                x = (rl + w / 2 + 0.25) if side < 0 else (rr - w / 2 - 0.25)
                key = ("park", side)
            else:
                x = centres[int(rng.integers(len(centres)))] + rng.normal(0, 0.25)
                key = ("lane", round(x))
            z = 4.0 + rng.random() ** 1.6 * 70.0
            if _free(occupied, key, z, ln):
                oncoming = (not parked) and x < split_x
                if parked:
                    oncoming = rng.random() < 0.3
                colour = _pick(rng, _CAR_COLOURS, 10) if kind != BUS else _pick(
                    rng, np.array([(220, 190, 30), (200, 40, 40), (40, 90, 170), (230, 230, 230), (40, 140, 80)], np.float32), 10)
                colour2 = _pick(rng, _CAR_COLOURS, 10)
                objs.append((kind, z, dict(x=x, w=w, h=h, l=ln, col=colour, col2=colour2, front=oncoming,
                                           glass=rng.uniform(0.15, 0.45), lit=rng.random() < 0.3)))
                return

    for _ in range(int(rng.integers(2, 9))):
        vehicle(CAR)
    for _ in range(int(rng.binomial(2, 0.35))):
        vehicle(TRUCK)
    if rng.random() < 0.4:
        vehicle(BUS)

    def person(x, z, rider=False):
        return dict(
            x=x, h=rng.uniform(1.5, 1.95), shirt=_pick(rng, _CLOTH_COLOURS, 15), pants=_pick(rng, _CLOTH_COLOURS, 15),
            skin=_pick(rng, _SKIN, 8), hair=_pick(rng, _HAIR, 8), phase=rng.uniform(-1, 1), bag=rng.random() < 0.3,
            helmet=_pick(rng, _CAR_COLOURS, 10) if rider and rng.random() < 0.6 else None,
            back=rng.random() < 0.5,
        )

    def sidewalk_x(side, margin=0.4):
        lo, hi = (S["facade_x"][0], rl) if side < 0 else (rr, S["facade_x"][1])
        return rng.uniform(lo + margin, hi - margin) if hi - lo > 2 * margin else 0.5 * (lo + hi)

    for _ in range(int(rng.integers(2, 10))):
        side = -1 if rng.random() < 0.5 else 1
        z = 4.0 + rng.random() ** 1.4 * 35.0
        objs.append((PERSON, z, person(sidewalk_x(side), z)))
    if S["crosswalk"] is not None:
        for _ in range(int(rng.integers(0, 4))):
            z = S["crosswalk"] + rng.uniform(0.5, 3.0)
            objs.append((PERSON, z, person(rng.uniform(rl + 0.5, rr - 0.5), z)))
    for _ in range(int(rng.choice(4, p=[0.15, 0.4, 0.3, 0.15]))):
        z = 5.0 + rng.random() ** 1.3 * 32.0
        if rng.random() < 0.6:  # riding along the road edge, seen from behind or front
            x = (rr - 0.9) if rng.random() < 0.6 else (rl + 0.9)
            side_view = False
        else:  # crossing or turning, seen from the side
            x = rng.uniform(rl + 1.0, rr - 1.0)
            side_view = True
        objs.append((RIDER, z, dict(x=x, side=side_view, dir=1 if rng.random() < 0.5 else -1,
                                    person=person(x, z, rider=True), col=_pick(rng, _CAR_COLOURS, 20))))
    for _ in range(int(rng.choice(4, p=[0.3, 0.3, 0.25, 0.15]))):
        side = -1 if rng.random() < 0.5 else 1
        z = 4.0 + rng.random() * 28.0
        objs.append((BICYCLE, z, dict(x=sidewalk_x(side, 0.6), dir=1 if rng.random() < 0.5 else -1,
                                      col=_pick(rng, _CAR_COLOURS, 20))))
    # poles along the kerbs, some carrying signs, lights or lamp arms
    for side in (-1, 1):
        kerb = (rl - 0.45) if side < 0 else (rr + 0.45)
        z = rng.uniform(4.0, 14.0)
        while z < min(S["z_end"], 110.0):
            att = rng.choice(4, p=[0.2, 0.35, 0.3, 0.15])
            p = dict(x=kerb + side * rng.uniform(0.0, 0.4), w=rng.uniform(0.16, 0.32), h=rng.uniform(3.0, 9.0),
                     col=np.array([rng.uniform(60, 170)] * 3, np.float32) * np.array([1, rng.uniform(0.95, 1.08), 1], np.float32),
                     att=int(att), side=side)
            if att == 1:  # traffic sign(s)
                p["h"] = rng.uniform(2.6, 4.0)
                p["signs"] = [
                    dict(shape=int(rng.integers(5)), y=p["h"] - 0.45 - 0.8 * i, r=rng.uniform(0.35, 0.5),
                         style=int(rng.integers(5)))
                    for i in range(int(rng.integers(1, 3)))
                ]
            elif att == 2:  # traffic light on the pole
                p["h"] = rng.uniform(2.8, 4.0)
                p["lamp"] = int(rng.integers(3))
                p["housing"] = rng.uniform(20, 60)
                p["over"] = rng.random() < 0.4  # second light on an arm over the road
                p["arm"] = rng.uniform(2.0, 5.0)
            elif att == 3:  # street lamp arm
                p["h"] = rng.uniform(6.0, 9.0)
                p["arm"] = rng.uniform(1.0, 2.5)
            objs.append((POLE, z, p))
            z += rng.uniform(10.0, 28.0)
        if rng.random() < 0.45:  # trees on the sidewalk
            z = rng.uniform(5.0, 15.0)
            x = (S["facade_x"][0] + 1.0) if side < 0 else (S["facade_x"][1] - 1.0)
            while z < min(S["z_end"], 90.0):
                objs.append((VEGETATION, z, dict(x=x + rng.normal(0, 0.2), h=rng.uniform(4.0, 9.0), r=rng.uniform(1.5, 3.0),
                                                 col=np.array([rng.uniform(40, 90), rng.uniform(80, 130), rng.uniform(20, 60)], np.float32),
                                                 trunk=rng.uniform(0.12, 0.25))))
                z += rng.uniform(7.0, 16.0)
    if rng.random() < 0.3:  # signal gantry across the road
        z = rng.uniform(15.0, 45.0)
        objs.append((LIGHT, z, dict(x0=rl - 0.5, x1=rr + 0.5, y=rng.uniform(5.0, 6.5), lamps=[
            (rng.uniform(rl + 1, rr - 1), int(rng.integers(3))) for _ in range(int(rng.integers(1, 4)))],
            col=np.array([rng.uniform(60, 150)] * 3, np.float32), housing=rng.uniform(20, 60))))
    objs.sort(key=lambda o: -o[1])
    return objs


# --------------------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------------------


def _interp_grid(g, h, w):
    """Bilinear (smoothstep-eased) interpolation of grid ``g`` over an h x w image."""
    cy, cx = g.shape[0] - 1, g.shape[1] - 1
    ys = (np.arange(h) + 0.5) * (cy / h)
    i = np.minimum(ys.astype(np.int64), cy - 1)
    fy = ys - i
    fy = (fy * fy * (3.0 - 2.0 * fy))[:, None]
    rows = g[i] * (1.0 - fy) + g[i + 1] * fy
    xs = (np.arange(w) + 0.5) * (cx / w)
    j = np.minimum(xs.astype(np.int64), cx - 1)
    fx = xs - j
    fx = fx * fx * (3.0 - 2.0 * fx)
    return (rows[:, j] * (1.0 - fx) + rows[:, j + 1] * fx).astype(np.float32)


def _unit_noise(rng, shape):
    """Uniform noise with zero mean and unit variance (much cheaper than normal draws)."""
    u = rng.random(shape, dtype=np.float32)
    u -= np.float32(0.5)
    u *= np.float32(12.0**0.5)
    return u


def _hash01(*ints):
    """Deterministic pseudo-random value in [0, 1) from integer arrays."""
    h = np.zeros(np.broadcast(*ints).shape, np.int64)
    for k, a in zip((73856093, 19349663, 83492791, 2654435761), ints):
        h = h ^ (np.asarray(a, np.int64) * k)
    h = (h ^ (h >> 13)) * 1274126177
    return ((h >> 8) & 0xFFFF).astype(np.float32) / 65536.0


class _Canvas:
    def __init__(self, S, H, W, prng):
        self.S, self.H, self.W = S, H, W
        self.A = W / H
        self.f, self.hc, self.u_v, self.v_h = S["f"], S["hc"], S["u_v"], S["v_h"]
        self.img = np.zeros((H, W, 3), np.float32)
        self.lab = np.full((H, W), SKY, np.uint8)
        self.depth = np.full((H, W), np.inf, np.float32)
        self.nh = _unit_noise(prng, (H, W))  # per-pixel texture noise
        cells = (max(2, H // 6), max(2, W // 6))
        self.nm = _interp_grid(prng.random((cells[0] + 1, cells[1] + 1)), H, W) * 2.0 - 1.0  # leafy noise
        self.prng = prng

    # projection of world points (metres, camera at X=0, ground Y=0, depth Z) to pixel coords
    def cx(self, X, Z):
        return (self.u_v + self.f * X / (Z * self.A)) * self.W

    def cy(self, Y, Z):
        return (self.v_h + self.f * (self.hc - Y) / Z) * self.H

    def px_per_m(self, Z):
        return self.f / Z * self.H

    def window(self, x0, x1, y0, y1):
        c0, c1 = max(0, math.ceil(x0 - 0.5)), min(self.W, math.ceil(x1 - 0.5))
        r0, r1 = max(0, math.ceil(y0 - 0.5)), min(self.H, math.ceil(y1 - 0.5))
        if c0 >= c1 or r0 >= r1:
            return None
        return (r0, r1, c0, c1, np.arange(c0, c1) + 0.5, (np.arange(r0, r1) + 0.5)[:, None])

    def paint(self, win, mask, rgb, cls, z, tex=0.05, shade=1.0, alpha=None):
        if win is None:
            return
        r0, r1, c0, c1 = win[:4]
        mask = np.broadcast_to(mask, (r1 - r0, c1 - c0))
        if not mask.any():
            return
        sub = self.img[r0:r1, c0:c1]
        n = self.nh[r0:r1, c0:c1][mask]
        rgb = np.asarray(rgb, np.float32) * shade
        if rgb.ndim == 1:
            val = rgb[None, :] * (1.0 + tex * n)[:, None]
        else:  # per-pixel colours already restricted to the mask
            val = rgb * (1.0 + tex * n)[:, None]
        if alpha is not None:
            val = alpha * val + (1.0 - alpha) * sub[mask]
        sub[mask] = val
        if cls is not None:
            self.lab[r0:r1, c0:c1][mask] = cls
        self.depth[r0:r1, c0:c1][mask] = z

    # primitives: each returns (window, mask)
    def rect(self, x0, y0, x1, y1, min_w=0.0):
        if x1 - x0 < min_w:
            m = 0.5 * (x0 + x1)
            x0, x1 = m - min_w / 2, m + min_w / 2
        win = self.window(x0, x1, y0, y1)
        return win, True

    def ellipse(self, cx, cy, rx, ry):
        rx, ry = max(rx, 0.5), max(ry, 0.5)
        win = self.window(cx - rx, cx + rx, cy - ry, cy + ry)
        if win is None:
            return None, False
        xs, ys = win[4], win[5]
        return win, ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1.0

    def capsule(self, xa, ya, xb, yb, r):
        r = max(r, 0.5)
        win = self.window(min(xa, xb) - r, max(xa, xb) + r, min(ya, yb) - r, max(ya, yb) + r)
        if win is None:
            return None, False
        xs, ys = win[4], win[5]
        dx, dy = xb - xa, yb - ya
        ll = dx * dx + dy * dy
        if ll < 1e-9:
            t = 0.0
        else:
            t = np.clip(((xs - xa) * dx + (ys - ya) * dy) / ll, 0.0, 1.0)
        ex, ey = xs - xa - t * dx, ys - ya - t * dy
        return win, ex * ex + ey * ey <= r * r

    def poly(self, pts):
        pts = np.asarray(pts, np.float64)
        win = self.window(pts[:, 0].min(), pts[:, 0].max(), pts[:, 1].min(), pts[:, 1].max())
        if win is None:
            return None, False
        xs, ys = win[4], win[5]
        pos = neg = None
        for k in range(len(pts)):
            (xa, ya), (xb, yb) = pts[k], pts[(k + 1) % len(pts)]
            c = (xb - xa) * (ys - ya) - (yb - ya) * (xs - xa)
            pos = (c >= 0) if pos is None else pos & (c >= 0)
            neg = (c <= 0) if neg is None else neg & (c <= 0)
        return win, pos | neg


def _render(S, H, W, prng):
    cv = _Canvas(S, H, W, prng)
    _background(cv)
    shadow = _shadow_fn(S)
    for kind, z, p in S["objects"]:
        _DRAW[kind](cv, z, p, shadow)
    return _finish(cv)


def _side_heights(blocks, z, tree_amp=1.0):
    """Block index and top height (metres) of facade blocks at positions ``z`` along them."""
    b = np.clip(np.searchsorted(blocks["edges"], z, side="right") - 1, 0, len(blocks["kind"]) - 1)
    top = blocks["h_top"][b]
    veg = blocks["kind"][b] != 0
    tg = blocks["tree_grid"]
    t = (z - blocks["edges"][0]) / blocks["tree_step"]
    i = np.clip(t.astype(np.int64), 0, len(tg) - 2)
    ft = np.clip(t - i, 0.0, 1.0)
    wobble = tg[i] * (1 - ft) + tg[i + 1] * ft
    top = np.where(veg, top + tree_amp * 1.5 * wobble, top)
    return b, top


def _background(cv):
    S, H, W = cv.S, cv.H, cv.W
    f, hc = cv.f, cv.hc
    px = ((np.arange(W) + 0.5) / W - cv.u_v) * cv.A  # (W,)
    py = (np.arange(H) + 0.5) / H - cv.v_h  # (H,)
    z_end = S["z_end"]
    lab, img, depth = cv.lab, cv.img, cv.depth

    # ground rows: those whose ground point lies before the street end
    zg = np.full(H, np.inf)
    pos = py > 0
    zg[pos] = f * hc / py[pos]
    g_rows = np.nonzero(zg < z_end)[0]
    r0 = int(g_rows[0]) if g_rows.size else H

    # --- sky (only rows above the ground can show it)
    if r0 > 0:
        t = np.clip((np.arange(r0) + 0.5) / H / max(cv.v_h, 1e-3), 0.0, 1.0).astype(np.float32)[:, None, None]
        sky = S["sky_top"] * (1.0 - t) + S["sky_hor"] * t  # (r0, 1, 3)
        clouds = _interp_grid(S["clouds"], H, W)[:r0]
        c = np.clip((clouds - np.float32(1.0 - S["cloud_amt"])) * 3.0, 0.0, 1.0)
        cloud_col = np.float32(min(255.0, float(S["sky_hor"].mean()) * 1.05))
        cl = (cloud_col * (0.85 + 0.15 * clouds) * c)[:, :, None]
        img[:r0] = (sky * (1.0 - c[:, :, None]) + cl) * (1.0 + 0.02 * cv.nh[:r0])[:, :, None]

    lo_f = _interp_grid(S["facade_lo"], H, W)
    # --- far facade across the street end (depth z_end)
    far = S["far"]
    xe = px * z_end / f
    ye = hc - py[:r0] * z_end / f  # (r0,)
    bf, topf = _side_heights(far, xe)
    mask = (ye[:, None] >= 0) & (ye[:, None] <= topf[None, :])
    rr, cc = np.nonzero(mask)
    if rr.size:
        _facade_pixels(cv, rr, cc, far, bf[cc], xe[cc] - far["edges"][bf[cc]], ye[rr], z_end, 1.0, lo_f)

    # --- ground
    if r0 < H:
        Xg = (px[None, :] * (hc / py[r0:])[:, None]).astype(np.float32)  # (h, W) lateral position
        _ground(cv, r0, zg[r0:].astype(np.float32), Xg)

    # --- side facades
    for side, blocks in ((-1, S["blocks"][0]), (1, S["blocks"][1])):
        xf = S["facade_x"][0 if side < 0 else 1]
        cols = np.nonzero(px * side > 1e-9)[0]
        if not cols.size:
            continue
        zs = f * xf / px[cols]
        keep = zs < z_end
        cols, zs = cols[keep], zs[keep]
        b, top = _side_heights(blocks, zs)
        Y = (hc - py[:, None] * (zs / f)[None, :]).astype(np.float32)  # (H, ncols)
        m = (Y >= 0) & (Y <= top.astype(np.float32)[None, :])
        rr, cl = np.nonzero(m)
        if rr.size:
            light = S["shade_side"] if side == S["sun_side"] else 1.0
            s_along = (zs - blocks["edges"][b]).astype(np.float32)
            _facade_pixels(cv, rr, cols[cl], blocks, b[cl], s_along[cl], Y[rr, cl], zs.astype(np.float32)[cl], light, lo_f)

    # --- ego-vehicle bonnet (ignore)
    if S["hood"] is not None:
        hh, hcol = S["hood"]
        rb = max(0, int(H * (1.0 - hh)) - 1)
        u = (np.arange(W) + 0.5) / W
        yb = (1.0 - hh * (1.0 - 0.6 * ((u - 0.5) * 2.0) ** 2)) * H  # (W,)
        ys = (np.arange(rb, H) + 0.5)[:, None]
        m = ys >= yb[None, :]
        grad = np.clip((ys - yb[None, :]) / (hh * H), 0, 1).astype(np.float32)[m][:, None]
        img[rb:][m] = hcol[None, :] * (0.6 + 0.5 * grad) + 40.0 * (1 - grad)
        lab[rb:][m] = IGNORE
        depth[rb:][m] = 1.0


def _ground(cv, r0, Zr, Xg):
    S, W = cv.S, cv.W
    rl, rr = S["road"]
    # class per pixel from the cross-section strips: (left boundary, class) in increasing X
    bounds, classes = [rl], [ROAD]
    x = rl
    for c, w in S["strips"][0]:  # outward from the left kerb
        x -= w
        bounds.insert(0, x)
        classes.insert(0, c)
    x = rr
    for c, w in S["strips"][1]:  # outward from the right kerb
        bounds.append(x)
        classes.append(c)
        x += w
    k = np.zeros(Xg.shape, np.uint8)
    for edge in bounds[1:]:
        k += Xg >= np.float32(edge)
    cls = np.array(classes, np.uint8)[k]
    Zc = Zr[:, None]  # (h, 1): depth is constant along a row
    lo = _interp_grid(S["ground_lo"], cv.H, W)[r0:]
    nh = cv.nh[r0:]
    nm = cv.nm[r0:]
    fade = 1.0 / (1.0 + Zr / np.float32(25.0))  # (h,) fades fine texture with distance (aliasing)

    img = S["asphalt"][None, None, :] * ((1.0 + 0.12 * (lo - 0.5)) * (1.0 + 0.06 * nh))[:, :, None]
    road = cls == ROAD
    # lane markings (paint): dashed between lanes, solid near the kerbs, optional zebra crossing
    period, dash, phase = S["dash"]
    lane_w, off = S["lane_w"], S["lane_off"]
    lanes_l, lanes_r = S["lanes"]
    dashed = (((Zr + np.float32(phase)) % np.float32(period)) < dash)[:, None]
    half = np.float32(0.07)
    paint = (np.abs(Xg - np.float32(rl + 0.3)) < half) | (np.abs(Xg - np.float32(rr - 0.3)) < half)
    for i in range(-lanes_l + 1, lanes_r):
        xb = off - lane_w / 2 + i * lane_w
        if rl + 1.0 < xb < rr - 1.0:
            on = np.abs(Xg - np.float32(xb)) < half
            if not (i == 0 and lanes_l > 1 and S["centre_yellow"]):
                on &= dashed
            paint |= on
    if S["crosswalk"] is not None:
        zc = S["crosswalk"]
        rows = (Zr > zc) & (Zr < zc + 3.5)
        if rows.any():
            paint[rows] |= ((Xg[rows] - np.float32(rl)) % np.float32(1.0)) < 0.5
    paint &= road
    pcol = np.array([235, 205, 60] if S["centre_yellow"] else [225, 225, 220], np.float32)
    img[paint] = pcol * (0.8 + 0.2 * lo[paint])[:, None]

    side = cls == SIDEWALK
    if side.any():
        tile = np.float32(S["tile"])
        lw = np.float32(0.1) * tile
        gz = ((Zr % tile) < lw)[:, None]
        dark = np.float32(1.0) - np.float32(0.25) * fade[:, None] * (((Xg % tile) < lw) | gz)
        kerb = (np.abs(Xg - np.float32(rl)) < 0.2) | (np.abs(Xg - np.float32(rr)) < 0.2)
        shade = (1.0 + 0.1 * (lo - 0.5) + 0.05 * nh) * dark * np.where(kerb, np.float32(1.12), np.float32(1.0))
        img[side] = S["paving"][None, :] * shade[side][:, None]

    terr = cls == TERRAIN
    if terr.any():
        mix = np.clip(0.5 + 0.8 * nm[terr] + 0.3 * (lo[terr] - 0.5), 0, 1)[:, None]
        img[terr] = (S["grass"] * mix + S["earth"] * (1 - mix)) * (1.0 + 0.12 * nh[terr])[:, None]

    # cast shadows of the sun-side facades across the ground
    if S["shadow_k"] > 0:
        blocks = S["blocks"][0 if S["sun_side"] < 0 else 1]
        _, top = _side_heights(blocks, Zr.astype(np.float64), 0.5)
        reach = S["shadow_k"] * top  # (h,) metres from the facade line
        xf = S["facade_x"][0 if S["sun_side"] < 0 else 1]
        if S["sun_side"] < 0:
            sh = Xg < (xf + reach).astype(np.float32)[:, None]
        else:
            sh = Xg > (xf - reach).astype(np.float32)[:, None]
        img[sh] *= np.float32(S["shadow_dark"])

    cv.img[r0:] = img
    cv.lab[r0:] = cls
    cv.depth[r0:] = Zc


def _facade_pixels(cv, rr, cc, blocks, b, s, Y, Z, light, lo_f):
    """Colour and label facade pixels (rr, cc): block ``b``, ``s`` metres along the block, height ``Y``."""
    s = np.asarray(s, np.float32)
    Y = np.asarray(Y, np.float32)
    kind = blocks["kind"][b]
    h_low = blocks["h_low"].astype(np.float32)[b]
    nh = cv.nh[rr, cc]
    lo = lo_f[rr, cc]
    col = blocks["col"]
    out = np.empty((rr.size, 3), np.float32)
    cls = np.empty(rr.size, np.uint8)

    bld = np.nonzero(kind == 0)[0]
    if bld.size:
        bb = b[bld]
        pz, pyy, fz, fy, oz, tint = blocks["win"].astype(np.float32)[bb].T
        sb, yb = s[bld] + oz, Y[bld]
        top = blocks["h_top"].astype(np.float32)[bb]
        gf = h_low[bld]
        iz = np.floor(sb / pz)
        yy = yb - gf
        iy = np.floor(yy / pyy)
        fy_in = yy - iy * pyy
        margin = (1.0 - fy) * pyy * 0.5
        win = (yb > gf + 0.6) & (yb < top - 1.0) & ((sb - iz * pz) < fz * pz) & (fy_in > margin) & (fy_in < pyy - margin)
        shop = (yy < -0.4) & (yb > 0.3) & ((sb % np.float32(6.0)) < 4.2)
        shade = (1.0 + 0.1 * (lo[bld] - 0.5)) * np.where(yy < 0, np.float32(0.8), np.float32(1.0))
        shade *= np.where(yb > top - 0.5, np.float32(0.75), np.float32(1.0))  # cornice
        c = col[bb] * shade[:, None]
        wi = np.nonzero(win)[0]
        if wi.size:
            rnd = _hash01(iz[wi].astype(np.int64), iy[wi].astype(np.int64), bb[wi])
            glass = np.array([40, 50, 60], np.float32) * (0.6 + 0.8 * rnd)[:, None] + np.array([60, 80, 110], np.float32) * tint[wi, None]
            glass[rnd > 0.93] = (220, 200, 140)  # lit window
            c[wi] = glass
        si = np.nonzero(shop)[0]
        if si.size:
            c[si] = np.array([35, 40, 45], np.float32) * (1.0 + 0.5 * lo[bld][si])[:, None]
        out[bld] = c * (1.0 + 0.06 * nh[bld])[:, None]
        cls[bld] = BUILDING

    veg = kind != 0
    if veg.any():
        lower = veg & (Y <= h_low)
        upper = np.nonzero(veg & ~lower)[0]
        if upper.size:
            leaf = np.clip(0.55 + 0.6 * cv.nm[rr[upper], cc[upper]] + 0.2 * nh[upper], 0.15, 1.3)
            out[upper] = col[b[upper]] * leaf[:, None]
            cls[upper] = VEGETATION
        wall = np.nonzero(lower & (kind == 2))[0]
        if wall.size:
            seam = ((Y[wall] % np.float32(0.3)) < 0.03) | ((s[wall] % np.float32(2.0)) < 0.04)
            f_ = np.where(seam, np.float32(0.8), np.float32(1.0)) * (1.0 + 0.07 * nh[wall] + 0.1 * (lo[wall] - 0.5))
            out[wall] = blocks["col2"][b[wall]] * f_[:, None]
            cls[wall] = WALL
        fence = np.nonzero(lower & (kind == 3))[0]
        if fence.size:
            bfn = b[fence]
            sf, yf = s[fence], Y[fence]
            post = (sf % np.float32(2.5)) < 0.1
            rail = (np.abs(yf - h_low[fence] + 0.05) < 0.05) | (np.abs(yf - 0.1) < 0.05)
            q = np.float32(0.25)
            mesh = (((sf + yf) % q) < 0.04) | (((sf - yf) % q) < 0.04)
            solid = post | rail | mesh
            behind = col[bfn] * np.clip(0.4 + 0.4 * cv.nm[rr[fence], cc[fence]], 0.1, 1.0)[:, None]
            behind[solid] = blocks["col2"][bfn][solid]
            out[fence] = behind * (1.0 + 0.05 * nh[fence])[:, None]
            cls[fence] = FENCE

    if light != 1.0:
        out *= np.float32(light)
    cv.img[rr, cc] = out
    cv.lab[rr, cc] = cls
    cv.depth[rr, cc] = Z


def _shadow_fn(S):
    """Shade factor for an object standing at (X, Z): cast shadows of the sun-side facades."""
    if S["shadow_k"] <= 0:
        return lambda x, z: 1.0
    blocks = S["blocks"][0 if S["sun_side"] < 0 else 1]
    xf = S["facade_x"][0 if S["sun_side"] < 0 else 1]

    def shade(x, z):
        _, top = _side_heights(blocks, np.array([z]), 0.5)
        reach = S["shadow_k"] * float(top[0])
        inside = x < xf + reach if S["sun_side"] < 0 else x > xf - reach
        return S["shadow_dark"] if inside else 1.0

    return shade


# --- objects ------------------------------------------------------------------------


def _draw_wheel_side(cv, x, y, rx, ry, z, cls, rim=None):
    cv.paint(*cv.ellipse(x, y, rx, ry), (25, 25, 28), cls, z, tex=0.1)
    if rim is not None:
        cv.paint(*cv.ellipse(x, y, rx * 0.55, ry * 0.55), rim, cls, z, tex=0.05)


def _draw_vehicle(cv, kind, z, p, shadow):
    x, w, h, ln = p["x"], p["w"], p["h"], p["l"]
    col, front = p["col"], p["front"]
    sh = shadow(x, z)
    s = cv.px_per_m(z)
    if s * h < 1.0:
        return
    # contact shadow on the ground (image only)
    gy = cv.cy(0.0, z)
    win, m = cv.ellipse(cv.cx(x, z), gy - 0.02 * s, (w / 2 + 0.25) * s, max(0.6, 0.08 * s))
    if win is not None:
        r0, r1, c0, c1 = win[:4]
        sub = cv.img[r0:r1, c0:c1]
        mm = np.broadcast_to(m, sub.shape[:2])
        sub[mm] *= 0.5
    # side face toward the camera (if any), drawn first: it is farther than the end face
    if abs(x) > w / 2 + 0.05:
        xs = x - w / 2 if x > 0 else x + w / 2
        z0, z1 = z, z + ln
        def P(zz, yy):
            return (cv.cx(xs, zz), cv.cy(yy, zz))
        sc = col * 0.82
        if kind == CAR:
            body = [P(z0, 0.18 * h), P(z0, 0.6 * h), P(z1, 0.6 * h), P(z1, 0.18 * h)]
            cabin = [P(z0 + 0.12 * ln, 0.6 * h), P(z0 + 0.3 * ln, h), P(z0 + 0.72 * ln, h), P(z0 + 0.9 * ln, 0.6 * h)]
            glass = [P(z0 + 0.17 * ln, 0.64 * h), P(z0 + 0.32 * ln, 0.95 * h), P(z0 + 0.7 * ln, 0.95 * h), P(z0 + 0.85 * ln, 0.64 * h)]
            cv.paint(*cv.poly(body), sc, CAR, z, shade=sh)
            cv.paint(*cv.poly(cabin), sc, CAR, z, shade=sh)
            cv.paint(*cv.poly(glass), np.array([50, 60, 75], np.float32) * (1 + p["glass"]), CAR, z, shade=sh)
            wheels = (z0 + 0.17 * ln, z0 + 0.83 * ln)
            rw = 0.33
        elif kind == TRUCK:
            cab = 2.3
            zb0, zb1 = (z0, z1 - cab) if not front else (z0 + cab, z1)
            zc0, zc1 = (z1 - cab, z1) if not front else (z0, z0 + cab)
            cv.paint(*cv.poly([P(zb0, 0.45), P(zb0, h), P(zb1, h), P(zb1, 0.45)]), sc, TRUCK, z, shade=sh)
            cv.paint(*cv.poly([P(zc0, 0.45), P(zc0, 2.7), P(zc1, 2.7), P(zc1, 0.45)]), p["col2"] * 0.85, TRUCK, z, shade=sh)
            wz = zc0 + 0.25 * cab if front else zc1 - 0.75 * cab
            cv.paint(*cv.poly([P(wz, 1.7), P(wz, 2.5), P(wz + 0.5 * cab, 2.5), P(wz + 0.5 * cab, 1.7)]), (45, 55, 70), TRUCK, z, shade=sh)
            wheels = (z0 + 1.0, z1 - 1.0, z1 - 2.5) if not front else (z0 + 1.0, z0 + 2.5, z1 - 1.0)
            rw = 0.5
        else:  # bus: long body with a band of windows
            cv.paint(*cv.poly([P(z0, 0.3), P(z0, h), P(z1, h), P(z1, 0.3)]), sc, BUS, z, shade=sh)
            nwin = 6
            for i in range(nwin):
                a = z0 + 0.6 + i * (ln - 1.2) / nwin
                b2 = a + 0.8 * (ln - 1.2) / nwin
                cv.paint(*cv.poly([P(a, 1.3), P(a, h - 0.35), P(b2, h - 0.35), P(b2, 1.3)]), (40, 50, 65), BUS, z, shade=sh)
            wheels = (z0 + 2.2, z1 - 2.5)
            rw = 0.5
        for wz in wheels:
            cxw, cyw = cv.cx(xs, wz), cv.cy(rw, wz)
            rxw = abs(cv.cx(xs, wz + rw) - cv.cx(xs, wz - rw)) / 2
            _draw_wheel_side(cv, cxw, cyw, max(rxw, 0.5), rw * cv.px_per_m(wz), wz, kind, rim=(140, 140, 145))
    # end face (rear or front) at depth z, facing the camera
    X0, X1 = cv.cx(x - w / 2, z), cv.cx(x + w / 2, z)
    Yr = lambda yy: cv.cy(yy, z)  # noqa: E731
    wid = X1 - X0
    rw = 0.25 * s
    # wheels below the body
    for xx in (X0 + 0.12 * wid, X1 - 0.12 * wid):
        cv.paint(*cv.rect(xx - 0.5 * rw, Yr(0.45 if kind != CAR else 0.3), xx + 0.5 * rw, Yr(0.0)), (22, 22, 25), kind, z, tex=0.1)
    if kind == CAR:
        cv.paint(*cv.rect(X0, Yr(0.62 * h), X1, Yr(0.15 * h)), col, CAR, z, shade=sh)
        cab = [(X0 + 0.06 * wid, Yr(0.62 * h)), (X0 + 0.16 * wid, Yr(h)), (X1 - 0.16 * wid, Yr(h)), (X1 - 0.06 * wid, Yr(0.62 * h))]
        cv.paint(*cv.poly(cab), col, CAR, z, shade=sh)
        gl = [(X0 + 0.12 * wid, Yr(0.64 * h)), (X0 + 0.2 * wid, Yr(0.95 * h)), (X1 - 0.2 * wid, Yr(0.95 * h)), (X1 - 0.12 * wid, Yr(0.64 * h))]
        cv.paint(*cv.poly(gl), np.array([45, 55, 70], np.float32) * (1 + p["glass"]), CAR, z, shade=sh)
        lamp = (235, 235, 215) if front else ((250, 60, 50) if p["lit"] else (170, 30, 30))
        for xa in (X0 + 0.04 * wid, X1 - 0.2 * wid):
            cv.paint(*cv.rect(xa, Yr(0.55 * h), xa + 0.16 * wid, Yr(0.45 * h)), lamp, CAR, z, tex=0.02)
        cv.paint(*cv.rect(X0 + 0.38 * wid, Yr(0.38 * h), X1 - 0.38 * wid, Yr(0.28 * h)), (220, 220, 210), CAR, z, shade=sh)
        cv.paint(*cv.rect(X0, Yr(0.22 * h), X1, Yr(0.14 * h)), col * 0.6, CAR, z, shade=sh)
    elif kind == TRUCK:
        if front:
            hb = h
            cv.paint(*cv.rect(X0 + 0.02 * wid, Yr(hb), X1 - 0.02 * wid, Yr(2.6)), col * 0.9, TRUCK, z + 2.3, shade=sh)
            cv.paint(*cv.rect(X0, Yr(2.7), X1, Yr(0.45)), p["col2"], TRUCK, z, shade=sh)
            cv.paint(*cv.rect(X0 + 0.06 * wid, Yr(2.5), X1 - 0.06 * wid, Yr(1.6)), (45, 55, 70), TRUCK, z, shade=sh)
            cv.paint(*cv.rect(X0 + 0.2 * wid, Yr(1.2), X1 - 0.2 * wid, Yr(0.6)), (40, 40, 42), TRUCK, z, shade=sh)
        else:
            cv.paint(*cv.rect(X0, Yr(h), X1, Yr(0.5)), col, TRUCK, z, shade=sh)
            cv.paint(*cv.rect(0.5 * (X0 + X1) - 0.5, Yr(h - 0.1), 0.5 * (X0 + X1) + 0.5, Yr(0.6)), col * 0.6, TRUCK, z, shade=sh)
            cv.paint(*cv.rect(X0, Yr(0.55), X1, Yr(0.35)), (40, 40, 42), TRUCK, z)
            for xa in (X0 + 0.02 * wid, X1 - 0.12 * wid):
                cv.paint(*cv.rect(xa, Yr(0.75), xa + 0.1 * wid, Yr(0.55)), (200, 40, 30), TRUCK, z)
    else:  # bus end face
        cv.paint(*cv.rect(X0, Yr(h), X1, Yr(0.3)), col, BUS, z, shade=sh)
        top_gl = 0.6 if front else 0.5
        cv.paint(*cv.rect(X0 + 0.05 * wid, Yr(h - 0.25), X1 - 0.05 * wid, Yr(h * top_gl)), (45, 55, 70), BUS, z, shade=sh)
        if front:
            cv.paint(*cv.rect(X0 + 0.15 * wid, Yr(h - 0.05), X1 - 0.15 * wid, Yr(h - 0.3)), (20, 20, 20), BUS, z)
            cv.paint(*cv.rect(X0 + 0.2 * wid, Yr(h - 0.1), X1 - 0.4 * wid, Yr(h - 0.25)), (255, 170, 40), BUS, z, tex=0.02)
        for xa in (X0 + 0.04 * wid, X1 - 0.14 * wid):
            cv.paint(*cv.rect(xa, Yr(1.0), xa + 0.1 * wid, Yr(0.6)), (230, 230, 200) if front else (200, 40, 30), BUS, z)


def _person_parts(cv, x, z, p, cls, sh, pose="walk", hip=None, feet=None, hands=None, lean=0.0):
    """Draw a person standing at (x, z) (or seated at ``hip``) facing the camera or away."""
    s = cv.px_per_m(z)
    H = p["h"]
    X = lambda dx: cv.cx(x + dx, z)  # noqa: E731
    Y = lambda yy: cv.cy(yy, z)  # noqa: E731
    if s * H < 3.0:
        return
    hip_y = 0.52 * H if hip is None else hip[1]
    hip_x = 0.0 if hip is None else hip[0]
    sh_y = hip_y + 0.3 * H
    sh_x = hip_x + lean
    # legs
    if feet is None:
        a = 0.12 * H * p["phase"]
        feet = [(-0.08 + a, 0.04), (0.08 - a, 0.04)]
    for (fx, fy), dx in zip(feet, (-0.07, 0.07)):
        cv.paint(*cv.capsule(X(hip_x + dx), Y(hip_y), X(fx), Y(fy), 0.065 * s), p["pants"], cls, z, shade=sh)
    # torso
    cv.paint(*cv.capsule(X(hip_x), Y(hip_y + 0.06 * H), X(sh_x), Y(sh_y - 0.04 * H), 0.14 * H * s / 1.0 * 0.75), p["shirt"], cls, z, shade=sh)
    # arms
    if hands is None:
        b = 0.06 * H * p["phase"]
        hands = [(-0.24 + b, 0.5 * H), (0.24 - b, 0.5 * H)]
    for (hx, hy), dx in zip(hands, (-0.17, 0.17)):
        cv.paint(*cv.capsule(X(sh_x + dx), Y(sh_y - 0.02 * H), X(hx), Y(hy), 0.045 * s), p["shirt"] * 0.9, cls, z, shade=sh)
    if p["bag"] and pose == "walk":
        cv.paint(*cv.rect(X(0.2), Y(0.62 * H), X(0.36), Y(0.45 * H)), p["pants"] * 0.7, cls, z, shade=sh)
    # head
    hy = sh_y + 0.1 * H
    cv.paint(*cv.ellipse(X(sh_x), Y(hy), 0.065 * H * s, 0.078 * H * s), p["skin"], cls, z, shade=sh, tex=0.03)
    top = p["helmet"] if p.get("helmet") is not None else p["hair"]
    if p["back"] or p.get("helmet") is not None:
        cv.paint(*cv.ellipse(X(sh_x), Y(hy + 0.01 * H), 0.07 * H * s, 0.075 * H * s), top, cls, z, shade=sh)
    else:
        cv.paint(*cv.ellipse(X(sh_x), Y(hy + 0.04 * H), 0.068 * H * s, 0.045 * H * s), top, cls, z, shade=sh)


def _draw_person(cv, z, p, shadow):
    sh = shadow(p["x"], z)
    s = cv.px_per_m(z)
    win, m = cv.ellipse(cv.cx(p["x"], z), cv.cy(0.0, z), 0.35 * s, max(0.5, 0.06 * s))
    if win is not None:
        r0, r1, c0, c1 = win[:4]
        sub = cv.img[r0:r1, c0:c1]
        sub[np.broadcast_to(m, sub.shape[:2])] *= 0.7
    _person_parts(cv, p["x"], z, p, PERSON, sh)


def _draw_bike_side(cv, x, z, p, sh):
    """A bicycle seen from the side, wheels at x -/+ 0.55 m (spoked wheels are labelled whole)."""
    s = cv.px_per_m(z)
    d = p["dir"]
    X = lambda dx: cv.cx(x + d * dx, z)  # noqa: E731
    Y = lambda yy: cv.cy(yy, z)  # noqa: E731
    r, wb = 0.34, 0.55
    for dx in (-wb, wb):
        cv.paint(*cv.ellipse(X(dx), Y(r), r * s, r * s), (30, 30, 32), BICYCLE, z, tex=0.05, alpha=0.75)
        cv.paint(*cv.ellipse(X(dx), Y(r), (r - 0.06) * s, (r - 0.06) * s), (60, 60, 60), BICYCLE, z, tex=0.1, alpha=0.35)
    col = p["col"]
    t = 0.03 * s
    seat, bar, crank = (-0.18, 0.92), (0.42, 0.98), (0.0, 0.3)
    for a, b in ((seat, crank), (seat, bar), (crank, (0.38, 0.82)), (crank, (-wb, r)), (seat, (-wb, r)), ((0.38, 0.82), (wb, r))):
        cv.paint(*cv.capsule(X(a[0]), Y(a[1]), X(b[0]), Y(b[1]), t), col, BICYCLE, z, shade=sh)
    cv.paint(*cv.capsule(X(-0.26), Y(0.95), X(-0.08), Y(0.95), 0.035 * s), (30, 30, 30), BICYCLE, z)
    cv.paint(*cv.capsule(X(0.42), Y(0.98), X(0.32), Y(1.02), 0.025 * s), (40, 40, 40), BICYCLE, z)


def _draw_bicycle(cv, z, p, shadow):
    _draw_bike_side(cv, p["x"], z, p, shadow(p["x"], z))


def _draw_rider(cv, z, p, shadow):
    """A cyclist: the person is labelled rider, the bicycle bicycle."""
    x = p["x"]
    sh = shadow(x, z)
    s = cv.px_per_m(z)
    person = dict(p["person"])
    person["h"] = person["h"] * 0.95
    if p["side"]:
        d = p["dir"]
        _draw_bike_side(cv, x, z, p, sh)
        hip = (-0.15 * d, 0.95)
        feet = [(0.05 * d, 0.2), (0.15 * d, 0.45)]
        hands = [(0.4 * d, 1.0), (0.42 * d, 1.02)]
        person["back"] = True
        _person_parts(cv, x, z, person, RIDER, sh, pose="ride", hip=hip, feet=feet, hands=hands, lean=0.2 * d)
    else:
        # seen from behind or in front: a narrow bicycle, the rider above it
        X = lambda dx: cv.cx(x + dx, z)  # noqa: E731
        Y = lambda yy: cv.cy(yy, z)  # noqa: E731
        wr = 0.035
        cv.paint(*cv.rect(X(-wr), Y(0.68), X(wr), Y(0.0), min_w=1.0), (30, 30, 32), BICYCLE, z)
        cv.paint(*cv.capsule(X(-0.3), Y(1.0), X(0.3), Y(1.0), 0.03 * s), (40, 40, 40), BICYCLE, z)
        hip = (0.0, 0.95)
        feet = [(-0.14, 0.3 + 0.15 * person["phase"]), (0.14, 0.3 - 0.15 * person["phase"])]
        hands = [(-0.28, 1.0), (0.28, 1.0)]
        _person_parts(cv, x, z, person, RIDER, sh, pose="ride", hip=hip, feet=feet, hands=hands)
        # the wheel nearer to the camera, in front of the rider's legs
        cv.paint(*cv.rect(X(-wr), Y(0.5), X(wr), Y(0.0), min_w=1.0), (30, 30, 32), BICYCLE, z - 0.01)


def _traffic_light(cv, xc, yc, z, lamp, housing, sh):
    s = cv.px_per_m(z)
    w, h = 0.4, 1.1
    X0, X1 = cv.cx(xc - w / 2, z), cv.cx(xc + w / 2, z)
    cv.paint(*cv.rect(X0, cv.cy(yc + h / 2, z), X1, cv.cy(yc - h / 2, z), min_w=1.0), (housing, housing, housing * 0.9), LIGHT, z, shade=sh)
    on = [(230, 40, 30), (240, 170, 20), (40, 220, 90)]
    for i in range(3):
        yy = yc + 0.34 - 0.34 * i
        c = on[i] if i == lamp else tuple(0.35 * np.array(on[i]))
        cv.paint(*cv.ellipse(cv.cx(xc, z), cv.cy(yy, z), 0.13 * s, 0.13 * s), c, LIGHT, z, tex=0.02)


def _draw_pole(cv, z, p, shadow):
    x, w, h = p["x"], p["w"], p["h"]
    sh = shadow(x, z)
    s = cv.px_per_m(z)
    cv.paint(*cv.rect(cv.cx(x - w / 2, z), cv.cy(h, z), cv.cx(x + w / 2, z), cv.cy(0.0, z), min_w=1.0), p["col"], POLE, z, shade=sh)
    att = p["att"]
    inward = -p["side"]  # towards the road
    if att == 1:
        for sg in p["signs"]:
            r, yc = sg["r"], sg["y"]
            cx_, cy_ = cv.cx(x, z - 0.05), cv.cy(yc, z - 0.05)
            rp = r * s
            shape, style = sg["shape"], sg["style"]
            outer, inner = [((200, 30, 30), (235, 235, 235)), ((30, 70, 170), (40, 90, 200)), ((240, 200, 30), (245, 245, 245)),
                            ((235, 235, 235), (240, 240, 240)), ((30, 120, 70), (40, 140, 80))][style]
            if shape == 0:  # circle
                cv.paint(*cv.ellipse(cx_, cy_, rp, rp), outer, SIGN, z - 0.05, shade=sh, tex=0.03)
                cv.paint(*cv.ellipse(cx_, cy_, 0.75 * rp, 0.75 * rp), inner, SIGN, z - 0.05, shade=sh, tex=0.03)
            elif shape == 1:  # triangle
                pts = [(cx_, cy_ - rp), (cx_ + rp, cy_ + 0.8 * rp), (cx_ - rp, cy_ + 0.8 * rp)]
                cv.paint(*cv.poly(pts), outer, SIGN, z - 0.05, shade=sh, tex=0.03)
                pts = [(cx_, cy_ - 0.55 * rp), (cx_ + 0.6 * rp, cy_ + 0.55 * rp), (cx_ - 0.6 * rp, cy_ + 0.55 * rp)]
                cv.paint(*cv.poly(pts), inner, SIGN, z - 0.05, shade=sh, tex=0.03)
            elif shape == 2:  # diamond
                pts = [(cx_, cy_ - rp), (cx_ + rp, cy_), (cx_, cy_ + rp), (cx_ - rp, cy_)]
                cv.paint(*cv.poly(pts), (240, 240, 240), SIGN, z - 0.05, shade=sh, tex=0.03)
                pts = [(cx_, cy_ - 0.7 * rp), (cx_ + 0.7 * rp, cy_), (cx_, cy_ + 0.7 * rp), (cx_ - 0.7 * rp, cy_)]
                cv.paint(*cv.poly(pts), (240, 190, 20), SIGN, z - 0.05, shade=sh, tex=0.03)
            else:  # rectangle (info / direction sign)
                ww = 1.6 if shape == 4 else 1.0
                cv.paint(*cv.rect(cx_ - ww * rp, cy_ - 0.8 * rp, cx_ + ww * rp, cy_ + 0.8 * rp), outer, SIGN, z - 0.05, shade=sh, tex=0.03)
                cv.paint(*cv.rect(cx_ - 0.5 * rp, cy_ - 0.15 * rp, cx_ + 0.5 * rp, cy_ + 0.15 * rp), inner, SIGN, z - 0.05, shade=sh, tex=0.03)
    elif att == 2:
        yc = h - 0.55
        if p["over"]:
            xe = x + inward * p["arm"]
            cv.paint(*cv.capsule(cv.cx(x, z), cv.cy(h - 0.1, z), cv.cx(xe, z), cv.cy(h - 0.1, z), max(0.5, 0.06 * s)), p["col"], POLE, z, shade=sh)
            _traffic_light(cv, xe, h - 0.65, z - 0.05, (p["lamp"] + 1) % 3, p["housing"], sh)
        _traffic_light(cv, x + inward * 0.25, yc, z - 0.05, p["lamp"], p["housing"], sh)
    elif att == 3:
        xe = x + inward * p["arm"]
        cv.paint(*cv.capsule(cv.cx(x, z), cv.cy(h, z), cv.cx(xe, z), cv.cy(h + 0.2, z), max(0.5, 0.05 * s)), p["col"], POLE, z, shade=sh)
        cv.paint(*cv.ellipse(cv.cx(xe, z), cv.cy(h + 0.1, z), 0.3 * s, 0.1 * s), p["col"] * 1.1, POLE, z, shade=sh)


def _draw_gantry(cv, z, p, shadow):
    s = cv.px_per_m(z)
    sh = shadow(0.0, z)
    y = p["y"]
    for xx in (p["x0"], p["x1"]):
        cv.paint(*cv.rect(cv.cx(xx - 0.15, z), cv.cy(y + 0.3, z), cv.cx(xx + 0.15, z), cv.cy(0.0, z), min_w=1.0), p["col"], POLE, z, shade=sh)
    cv.paint(*cv.rect(cv.cx(p["x0"], z), cv.cy(y + 0.3, z), cv.cx(p["x1"], z), cv.cy(y, z)), p["col"], POLE, z, shade=sh)
    for xl, lamp in p["lamps"]:
        _traffic_light(cv, xl, y - 0.55, z - 0.05, lamp, p["housing"], sh)
    del s


def _draw_tree(cv, z, p, shadow):
    x, h, r = p["x"], p["h"], p["r"]
    s = cv.px_per_m(z)
    sh = shadow(x, z)
    cv.paint(*cv.rect(cv.cx(x - p["trunk"] / 2, z), cv.cy(h - r, z), cv.cx(x + p["trunk"] / 2, z), cv.cy(0.0, z), min_w=1.0),
             (90, 70, 50), VEGETATION, z, shade=sh)
    cx_, cy_ = cv.cx(x, z), cv.cy(h - 0.2 * r, z)
    rx, ry = r * s, 0.85 * r * s
    win = cv.window(cx_ - 1.2 * rx, cx_ + 1.2 * rx, cy_ - 1.2 * ry, cy_ + 1.2 * ry)
    if win is None:
        return
    r0, r1, c0, c1, xs, ys = win
    d = ((xs - cx_) / rx) ** 2 + ((ys - cy_) / ry) ** 2
    nm = cv.nm[r0:r1, c0:c1]
    m = d <= 1.0 + 0.45 * nm
    leaf = np.clip(0.55 + 0.6 * nm + 0.25 * cv.nh[r0:r1, c0:c1], 0.15, 1.3)[m]
    cv.paint(win, m, p["col"][None, :] * leaf[:, None], VEGETATION, z, tex=0.0, shade=sh)


_DRAW = {
    CAR: lambda cv, z, p, sh: _draw_vehicle(cv, CAR, z, p, sh),
    TRUCK: lambda cv, z, p, sh: _draw_vehicle(cv, TRUCK, z, p, sh),
    BUS: lambda cv, z, p, sh: _draw_vehicle(cv, BUS, z, p, sh),
    PERSON: _draw_person,
    RIDER: _draw_rider,
    BICYCLE: _draw_bicycle,
    POLE: _draw_pole,
    LIGHT: _draw_gantry,
    VEGETATION: _draw_tree,
}


def _finish(cv):
    S, H, W = cv.S, cv.H, cv.W
    img = cv.img
    # haze toward the horizon colour with distance (rational, no exp)
    hmax, zf = S["haze"]
    if hmax > 0:
        z = np.minimum(cv.depth, np.float32(1e4))
        a = (np.float32(hmax) * z / (z + np.float32(zf)))[:, :, None]
        img += (S["sky_hor"] * np.float32(0.95) - img) * a
    # exposure and white balance, with vignetting
    mult = np.float32(S["gain"] / 255.0) * S["wb"]
    if S["vignette"] > 0:
        u = ((np.arange(W) + 0.5) / W - 0.5) * 2.0
        v = ((np.arange(H) + 0.5) / H - 0.5) * 2.0
        vig = (1.0 - S["vignette"] * 0.5 * (u[None, :] ** 2 + v[:, None] ** 2)).astype(np.float32)
        img *= vig[:, :, None] * mult
    else:
        img *= mult
    np.clip(img, 0.0, 1.0, out=img)
    # tone curve x * (1 + k (1 - x)), then back to 0..255
    k = np.float32(S["tone"])
    img *= (np.float32(255.0) * (1.0 + k)) - (np.float32(255.0) * k) * img
    if S["blur"]:
        p = np.pad(img, ((1, 1), (1, 1), (0, 0)), mode="edge")
        img = p[:-2] + p[2:] + 2.0 * p[1:-1]
        img = (img[:, :-2] + img[:, 2:] + 2.0 * img[:, 1:-1]) * np.float32(0.0625)
    img += _unit_noise(cv.prng, img.shape) * np.float32(S["noise"])
    np.rint(img, out=img)
    np.clip(img, 0, 255, out=img)
    return img.astype(np.uint8), cv.lab
