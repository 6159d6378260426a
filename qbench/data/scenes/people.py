"""People and bicycles: pedestrians walking, cyclists (rider over a bicycle, seen from the side, behind or in
front) and parked bicycles, built from capsules and ellipses."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from qbench.data.scenes.canvas import Canvas
from qbench.data.scenes.classes import BICYCLE, PERSON, RIDER
from qbench.data.scenes.layout import Figure, ParkedBicycle, Pedestrian, Rider


def _person_parts(cv, x, z, p: Figure, cls, sh, pose="walk", hip=None, feet=None, hands=None, lean=0.0):
    """Draw a person standing at (x, z) (or seated at ``hip``) facing the camera or away."""
    s = cv.px_per_m(z)
    H = p.h
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
        a = 0.12 * H * p.phase
        feet = [(-0.08 + a, 0.04), (0.08 - a, 0.04)]
    for (fx, fy), dx in zip(feet, (-0.07, 0.07)):
        cv.paint(*cv.capsule(X(hip_x + dx), Y(hip_y), X(fx), Y(fy), 0.065 * s), p.pants, cls, z, shade=sh)
    # torso
    cv.paint(*cv.capsule(X(hip_x), Y(hip_y + 0.06 * H), X(sh_x), Y(sh_y - 0.04 * H), 0.14 * H * s / 1.0 * 0.75), p.shirt, cls, z, shade=sh)
    # arms
    if hands is None:
        b = 0.06 * H * p.phase
        hands = [(-0.24 + b, 0.5 * H), (0.24 - b, 0.5 * H)]
    for (hx, hy), dx in zip(hands, (-0.17, 0.17)):
        cv.paint(*cv.capsule(X(sh_x + dx), Y(sh_y - 0.02 * H), X(hx), Y(hy), 0.045 * s), p.shirt * 0.9, cls, z, shade=sh)
    if p.bag and pose == "walk":
        cv.paint(*cv.rect(X(0.2), Y(0.62 * H), X(0.36), Y(0.45 * H)), p.pants * 0.7, cls, z, shade=sh)
    # head
    hy = sh_y + 0.1 * H
    cv.paint(*cv.ellipse(X(sh_x), Y(hy), 0.065 * H * s, 0.078 * H * s), p.skin, cls, z, shade=sh, tex=0.03)
    top = p.helmet if p.helmet is not None else p.hair
    if p.back or p.helmet is not None:
        cv.paint(*cv.ellipse(X(sh_x), Y(hy + 0.01 * H), 0.07 * H * s, 0.075 * H * s), top, cls, z, shade=sh)
    else:
        cv.paint(*cv.ellipse(X(sh_x), Y(hy + 0.04 * H), 0.068 * H * s, 0.045 * H * s), top, cls, z, shade=sh)


def draw_pedestrian(cv: Canvas, p: Pedestrian, shadow) -> None:
    z = p.z
    sh = shadow(p.x, z)
    s = cv.px_per_m(z)
    win, m = cv.ellipse(cv.cx(p.x, z), cv.cy(0.0, z), 0.35 * s, max(0.5, 0.06 * s))
    if win is not None:
        r0, r1, c0, c1 = win[:4]
        sub = cv.img[r0:r1, c0:c1]
        sub[np.broadcast_to(m, sub.shape[:2])] *= 0.7
    _person_parts(cv, p.x, z, p.figure, PERSON, sh)


def _draw_bike_side(cv, x, z, d, col, sh):
    """A bicycle heading ``d`` seen from the side, wheels at x -/+ 0.55 m (spoked wheels are labelled whole)."""
    s = cv.px_per_m(z)
    X = lambda dx: cv.cx(x + d * dx, z)  # noqa: E731
    Y = lambda yy: cv.cy(yy, z)  # noqa: E731
    r, wb = 0.34, 0.55
    for dx in (-wb, wb):
        cv.paint(*cv.ellipse(X(dx), Y(r), r * s, r * s), (30, 30, 32), BICYCLE, z, tex=0.05, alpha=0.75)
        cv.paint(*cv.ellipse(X(dx), Y(r), (r - 0.06) * s, (r - 0.06) * s), (60, 60, 60), BICYCLE, z, tex=0.1, alpha=0.35)
    t = 0.03 * s
    seat, bar, crank = (-0.18, 0.92), (0.42, 0.98), (0.0, 0.3)
    for a, b in ((seat, crank), (seat, bar), (crank, (0.38, 0.82)), (crank, (-wb, r)), (seat, (-wb, r)), ((0.38, 0.82), (wb, r))):
        cv.paint(*cv.capsule(X(a[0]), Y(a[1]), X(b[0]), Y(b[1]), t), col, BICYCLE, z, shade=sh)
    cv.paint(*cv.capsule(X(-0.26), Y(0.95), X(-0.08), Y(0.95), 0.035 * s), (30, 30, 30), BICYCLE, z)
    cv.paint(*cv.capsule(X(0.42), Y(0.98), X(0.32), Y(1.02), 0.025 * s), (40, 40, 40), BICYCLE, z)


def draw_parked_bicycle(cv: Canvas, p: ParkedBicycle, shadow) -> None:
    _draw_bike_side(cv, p.x, p.z, p.dir, p.col, shadow(p.x, p.z))


def draw_rider(cv: Canvas, p: Rider, shadow) -> None:
    """A cyclist: the person is labelled rider, the bicycle bicycle."""
    x, z = p.x, p.z
    sh = shadow(x, z)
    s = cv.px_per_m(z)
    person = replace(p.figure, h=p.figure.h * 0.95)
    if p.side_view:
        d = p.dir
        _draw_bike_side(cv, x, z, d, p.col, sh)
        hip = (-0.15 * d, 0.95)
        feet = [(0.05 * d, 0.2), (0.15 * d, 0.45)]
        hands = [(0.4 * d, 1.0), (0.42 * d, 1.02)]
        person = replace(person, back=True)
        _person_parts(cv, x, z, person, RIDER, sh, pose="ride", hip=hip, feet=feet, hands=hands, lean=0.2 * d)
    else:
        # seen from behind or in front: a narrow bicycle, the rider above it
        X = lambda dx: cv.cx(x + dx, z)  # noqa: E731
        Y = lambda yy: cv.cy(yy, z)  # noqa: E731
        wr = 0.035
        cv.paint(*cv.rect(X(-wr), Y(0.68), X(wr), Y(0.0), min_w=1.0), (30, 30, 32), BICYCLE, z)
        cv.paint(*cv.capsule(X(-0.3), Y(1.0), X(0.3), Y(1.0), 0.03 * s), (40, 40, 40), BICYCLE, z)
        hip = (0.0, 0.95)
        feet = [(-0.14, 0.3 + 0.15 * person.phase), (0.14, 0.3 - 0.15 * person.phase)]
        hands = [(-0.28, 1.0), (0.28, 1.0)]
        _person_parts(cv, x, z, person, RIDER, sh, pose="ride", hip=hip, feet=feet, hands=hands)
        # the wheel nearer to the camera, in front of the rider's legs
        cv.paint(*cv.rect(X(-wr), Y(0.5), X(wr), Y(0.0), min_w=1.0), (30, 30, 32), BICYCLE, z - 0.01)
