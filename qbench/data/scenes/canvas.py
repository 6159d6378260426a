"""The frame being rendered: image, labels and depth buffers, the pinhole projection, and the primitive shapes
objects are drawn with (each primitive returns a pixel window and a mask inside it)."""

from __future__ import annotations

import math

import numpy as np

from qbench.data.scenes.classes import SKY
from qbench.data.scenes.layout import Camera
from qbench.data.scenes.noise import interp_grid, unit_noise


class Canvas:
    def __init__(self, camera: Camera, H: int, W: int, prng: np.random.Generator):
        self.H, self.W = H, W
        self.A = W / H
        self.f, self.hc, self.u_v, self.v_h = camera.f, camera.hc, camera.u_v, camera.v_h
        self.img = np.zeros((H, W, 3), np.float32)
        self.lab = np.full((H, W), SKY, np.uint8)
        self.depth = np.full((H, W), np.inf, np.float32)
        self.nh = unit_noise(prng, (H, W))  # per-pixel texture noise
        cells = (max(2, H // 6), max(2, W // 6))
        self.nm = interp_grid(prng.random((cells[0] + 1, cells[1] + 1)), H, W) * 2.0 - 1.0  # leafy noise

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
