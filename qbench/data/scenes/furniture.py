"""Street furniture and trees: poles with traffic signs, traffic lights or a lamp arm, signal gantries over
the road, and trees with a leafy crown (its outline follows the canvas's leafy noise)."""

from __future__ import annotations

import numpy as np

from qbench.data.scenes.canvas import Canvas
from qbench.data.scenes.classes import LIGHT, POLE, SIGN, VEGETATION
from qbench.data.scenes.layout import Gantry, LampArm, Pole, PoleLights, Signs, Tree

#: (outer, inner) colours of a sign, by ``Sign.style``.
_SIGN_STYLES = [((200, 30, 30), (235, 235, 235)), ((30, 70, 170), (40, 90, 200)), ((240, 200, 30), (245, 245, 245)),
                ((235, 235, 235), (240, 240, 240)), ((30, 120, 70), (40, 140, 80))]


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


def _draw_signs(cv, x, z, signs: Signs, sh):
    s = cv.px_per_m(z)
    for sg in signs.signs:
        r, yc = sg.r, sg.y
        cx_, cy_ = cv.cx(x, z - 0.05), cv.cy(yc, z - 0.05)
        rp = r * s
        shape = sg.shape
        outer, inner = _SIGN_STYLES[sg.style]
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


def draw_pole(cv: Canvas, p: Pole, shadow) -> None:
    x, z, w, h = p.x, p.z, p.w, p.h
    sh = shadow(x, z)
    s = cv.px_per_m(z)
    cv.paint(*cv.rect(cv.cx(x - w / 2, z), cv.cy(h, z), cv.cx(x + w / 2, z), cv.cy(0.0, z), min_w=1.0), p.col, POLE, z, shade=sh)
    att = p.attachment
    inward = -p.side  # towards the road
    if isinstance(att, Signs):
        _draw_signs(cv, x, z, att, sh)
    elif isinstance(att, PoleLights):
        yc = h - 0.55
        if att.over:
            xe = x + inward * att.arm
            cv.paint(*cv.capsule(cv.cx(x, z), cv.cy(h - 0.1, z), cv.cx(xe, z), cv.cy(h - 0.1, z), max(0.5, 0.06 * s)), p.col, POLE, z, shade=sh)
            _traffic_light(cv, xe, h - 0.65, z - 0.05, (att.lamp + 1) % 3, att.housing, sh)
        _traffic_light(cv, x + inward * 0.25, yc, z - 0.05, att.lamp, att.housing, sh)
    elif isinstance(att, LampArm):
        xe = x + inward * att.arm
        cv.paint(*cv.capsule(cv.cx(x, z), cv.cy(h, z), cv.cx(xe, z), cv.cy(h + 0.2, z), max(0.5, 0.05 * s)), p.col, POLE, z, shade=sh)
        cv.paint(*cv.ellipse(cv.cx(xe, z), cv.cy(h + 0.1, z), 0.3 * s, 0.1 * s), p.col * 1.1, POLE, z, shade=sh)


def draw_gantry(cv: Canvas, p: Gantry, shadow) -> None:
    z = p.z
    sh = shadow(0.0, z)
    y = p.y
    for xx in (p.x0, p.x1):
        cv.paint(*cv.rect(cv.cx(xx - 0.15, z), cv.cy(y + 0.3, z), cv.cx(xx + 0.15, z), cv.cy(0.0, z), min_w=1.0), p.col, POLE, z, shade=sh)
    cv.paint(*cv.rect(cv.cx(p.x0, z), cv.cy(y + 0.3, z), cv.cx(p.x1, z), cv.cy(y, z)), p.col, POLE, z, shade=sh)
    for xl, lamp in p.lamps:
        _traffic_light(cv, xl, y - 0.55, z - 0.05, lamp, p.housing, sh)


def draw_tree(cv: Canvas, p: Tree, shadow) -> None:
    x, z, h, r = p.x, p.z, p.h, p.r
    s = cv.px_per_m(z)
    sh = shadow(x, z)
    cv.paint(*cv.rect(cv.cx(x - p.trunk / 2, z), cv.cy(h - r, z), cv.cx(x + p.trunk / 2, z), cv.cy(0.0, z), min_w=1.0),
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
    cv.paint(win, m, p.col[None, :] * leaf[:, None], VEGETATION, z, tex=0.0, shade=sh)
