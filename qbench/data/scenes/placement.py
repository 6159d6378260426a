"""Placing the objects that stand on the street: vehicles in lanes or parked, people, cyclists, bicycles,
poles with their signs, lights and lamps, trees, a signal gantry. Drawn from the layout stream after the rest
of the layout, in a fixed order (every draw shifts the ones after it)."""

from __future__ import annotations

import numpy as np

from qbench.data.scenes.classes import BUS, CAR, TRUCK
from qbench.data.scenes.layout import (
    Figure, Gantry, LampArm, ParkedBicycle, Pedestrian, Pole, PoleLights, Rider, SceneObject, Sign, Signs, Street,
    Tree, Vehicle,
)
from qbench.data.scenes.palette import BUS_COLOURS, CAR_COLOURS, CLOTH_COLOURS, HAIR, SKIN, pick


def sample_objects(rng: np.random.Generator, street: Street, crosswalk: float | None) -> tuple[SceneObject, ...]:
    """The street's objects, far to near."""
    objs: list[SceneObject] = []
    rl, rr = street.kerbs
    lane_w, off = street.lane_w, street.lane_off
    lanes_l, lanes_r = street.lanes
    occupied: dict[tuple[str, int], list[tuple[float, float]]] = {}
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
                colour = pick(rng, CAR_COLOURS, 10) if kind != BUS else pick(rng, BUS_COLOURS, 10)
                colour2 = pick(rng, CAR_COLOURS, 10)
                objs.append(Vehicle(kind, z, x=x, w=w, h=h, length=ln, col=colour, col2=colour2, front=oncoming,
                                    glass=rng.uniform(0.15, 0.45), lit=rng.random() < 0.3))
                return

    for _ in range(int(rng.integers(2, 9))):
        vehicle(CAR)
    for _ in range(int(rng.binomial(2, 0.35))):
        vehicle(TRUCK)
    if rng.random() < 0.4:
        vehicle(BUS)

    def figure(rider=False):
        return Figure(
            h=rng.uniform(1.5, 1.95), shirt=pick(rng, CLOTH_COLOURS, 15), pants=pick(rng, CLOTH_COLOURS, 15),
            skin=pick(rng, SKIN, 8), hair=pick(rng, HAIR, 8), phase=rng.uniform(-1, 1), bag=rng.random() < 0.3,
            helmet=pick(rng, CAR_COLOURS, 10) if rider and rng.random() < 0.6 else None,
            back=rng.random() < 0.5,
        )

    def sidewalk_x(side, margin=0.4):
        lo, hi = (street.facade_x[0], rl) if side < 0 else (rr, street.facade_x[1])
        return rng.uniform(lo + margin, hi - margin) if hi - lo > 2 * margin else 0.5 * (lo + hi)

    for _ in range(int(rng.integers(2, 10))):
        side = -1 if rng.random() < 0.5 else 1
        z = 4.0 + rng.random() ** 1.4 * 35.0
        objs.append(Pedestrian(z, x=sidewalk_x(side), figure=figure()))
    if crosswalk is not None:
        for _ in range(int(rng.integers(0, 4))):
            z = crosswalk + rng.uniform(0.5, 3.0)
            objs.append(Pedestrian(z, x=rng.uniform(rl + 0.5, rr - 0.5), figure=figure()))
    for _ in range(int(rng.choice(4, p=[0.15, 0.4, 0.3, 0.15]))):
        z = 5.0 + rng.random() ** 1.3 * 32.0
        if rng.random() < 0.6:  # riding along the road edge, seen from behind or front
            x = (rr - 0.9) if rng.random() < 0.6 else (rl + 0.9)
            side_view = False
        else:  # crossing or turning, seen from the side
            x = rng.uniform(rl + 1.0, rr - 1.0)
            side_view = True
        objs.append(Rider(z, x, side_view=side_view, dir=1 if rng.random() < 0.5 else -1,
                          figure=figure(rider=True), col=pick(rng, CAR_COLOURS, 20)))
    for _ in range(int(rng.choice(4, p=[0.3, 0.3, 0.25, 0.15]))):
        side = -1 if rng.random() < 0.5 else 1
        z = 4.0 + rng.random() * 28.0
        objs.append(ParkedBicycle(z, x=sidewalk_x(side, 0.6), dir=1 if rng.random() < 0.5 else -1,
                                  col=pick(rng, CAR_COLOURS, 20)))
    # poles along the kerbs, some carrying signs, lights or lamp arms
    for side in (-1, 1):
        kerb = (rl - 0.45) if side < 0 else (rr + 0.45)
        z = rng.uniform(4.0, 14.0)
        while z < min(street.z_end, 110.0):
            objs.append(_sample_pole(rng, z, kerb, side))
            z += rng.uniform(10.0, 28.0)
        if rng.random() < 0.45:  # trees on the sidewalk
            z = rng.uniform(5.0, 15.0)
            x = (street.facade_x[0] + 1.0) if side < 0 else (street.facade_x[1] - 1.0)
            while z < min(street.z_end, 90.0):
                objs.append(Tree(z, x=x + rng.normal(0, 0.2), h=rng.uniform(4.0, 9.0), r=rng.uniform(1.5, 3.0),
                                 col=np.array([rng.uniform(40, 90), rng.uniform(80, 130), rng.uniform(20, 60)], np.float32),
                                 trunk=rng.uniform(0.12, 0.25)))
                z += rng.uniform(7.0, 16.0)
    if rng.random() < 0.3:  # signal gantry across the road
        z = rng.uniform(15.0, 45.0)
        objs.append(Gantry(z, x0=rl - 0.5, x1=rr + 0.5, y=rng.uniform(5.0, 6.5), lamps=tuple(
            (rng.uniform(rl + 1, rr - 1), int(rng.integers(3))) for _ in range(int(rng.integers(1, 4)))),
            col=np.array([rng.uniform(60, 150)] * 3, np.float32), housing=rng.uniform(20, 60)))
    objs.sort(key=lambda o: -o.z)
    return tuple(objs)


def _free(occupied, key, z, length):
    """Claim ``z .. z+length`` of a lane or parking row unless it comes within a metre of a vehicle already there."""
    for z0, z1 in occupied.setdefault(key, []):
        if z < z1 + 1.0 and z + length > z0 - 1.0:
            return False
    occupied[key].append((z, z + length))
    return True


def _sample_pole(rng, z, kerb, side):
    """A pole at the kerb, bare or carrying traffic signs, traffic lights or a street lamp."""
    att = rng.choice(4, p=[0.2, 0.35, 0.3, 0.15])
    x = kerb + side * rng.uniform(0.0, 0.4)
    w = rng.uniform(0.16, 0.32)
    h = rng.uniform(3.0, 9.0)
    col = np.array([rng.uniform(60, 170)] * 3, np.float32) * np.array([1, rng.uniform(0.95, 1.08), 1], np.float32)
    attachment = None
    if att == 1:  # traffic sign(s)
        h = rng.uniform(2.6, 4.0)
        attachment = Signs(tuple(
            Sign(shape=int(rng.integers(5)), y=h - 0.45 - 0.8 * i, r=rng.uniform(0.35, 0.5), style=int(rng.integers(5)))
            for i in range(int(rng.integers(1, 3)))
        ))
    elif att == 2:  # traffic light on the pole
        h = rng.uniform(2.8, 4.0)
        attachment = PoleLights(lamp=int(rng.integers(3)), housing=rng.uniform(20, 60),
                                over=rng.random() < 0.4,  # second light on an arm over the road
                                arm=rng.uniform(2.0, 5.0))
    elif att == 3:  # street lamp arm
        h = rng.uniform(6.0, 9.0)
        attachment = LampArm(arm=rng.uniform(1.0, 2.5))
    return Pole(z, x=x, w=w, h=h, col=col, side=side, attachment=attachment)
