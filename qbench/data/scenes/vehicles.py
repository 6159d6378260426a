"""Cars, trucks and buses: the side facing the camera (if any) in perspective, then the end face (rear, or
front when oncoming), with wheels, windows and lamps."""

from __future__ import annotations

import numpy as np

from qbench.data.scenes.canvas import Canvas
from qbench.data.scenes.classes import BUS, CAR, TRUCK
from qbench.data.scenes.layout import Vehicle


def _draw_wheel_side(cv, x, y, rx, ry, z, cls, rim=None):
    cv.paint(*cv.ellipse(x, y, rx, ry), (25, 25, 28), cls, z, tex=0.1)
    if rim is not None:
        cv.paint(*cv.ellipse(x, y, rx * 0.55, ry * 0.55), rim, cls, z, tex=0.05)


def draw_vehicle(cv: Canvas, v: Vehicle, shadow) -> None:
    kind, z = v.kind, v.z
    x, w, h, ln = v.x, v.w, v.h, v.length
    col, front = v.col, v.front
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
            cv.paint(*cv.poly(glass), np.array([50, 60, 75], np.float32) * (1 + v.glass), CAR, z, shade=sh)
            wheels = (z0 + 0.17 * ln, z0 + 0.83 * ln)
            rw = 0.33
        elif kind == TRUCK:
            cab = 2.3
            zb0, zb1 = (z0, z1 - cab) if not front else (z0 + cab, z1)
            zc0, zc1 = (z1 - cab, z1) if not front else (z0, z0 + cab)
            cv.paint(*cv.poly([P(zb0, 0.45), P(zb0, h), P(zb1, h), P(zb1, 0.45)]), sc, TRUCK, z, shade=sh)
            cv.paint(*cv.poly([P(zc0, 0.45), P(zc0, 2.7), P(zc1, 2.7), P(zc1, 0.45)]), v.col2 * 0.85, TRUCK, z, shade=sh)
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
        cv.paint(*cv.poly(gl), np.array([45, 55, 70], np.float32) * (1 + v.glass), CAR, z, shade=sh)
        lamp = (235, 235, 215) if front else ((250, 60, 50) if v.lit else (170, 30, 30))
        for xa in (X0 + 0.04 * wid, X1 - 0.2 * wid):
            cv.paint(*cv.rect(xa, Yr(0.55 * h), xa + 0.16 * wid, Yr(0.45 * h)), lamp, CAR, z, tex=0.02)
        cv.paint(*cv.rect(X0 + 0.38 * wid, Yr(0.38 * h), X1 - 0.38 * wid, Yr(0.28 * h)), (220, 220, 210), CAR, z, shade=sh)
        cv.paint(*cv.rect(X0, Yr(0.22 * h), X1, Yr(0.14 * h)), col * 0.6, CAR, z, shade=sh)
    elif kind == TRUCK:
        if front:
            cv.paint(*cv.rect(X0 + 0.02 * wid, Yr(h), X1 - 0.02 * wid, Yr(2.6)), col * 0.9, TRUCK, z + 2.3, shade=sh)
            cv.paint(*cv.rect(X0, Yr(2.7), X1, Yr(0.45)), v.col2, TRUCK, z, shade=sh)
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
