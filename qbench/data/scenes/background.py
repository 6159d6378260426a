"""The static street behind the objects: sky with clouds, the facades along both sides and across the street
end (buildings with windows and shop fronts, trees, walls, fences), the ground, and the ego-vehicle's bonnet.

Every pixel is traced from the camera: a row below the horizon meets the ground (or the far facade), a column
meets a side facade at the depth where its ray crosses the facade line.
"""

from __future__ import annotations

import numpy as np

from qbench.data.labels import IGNORE
from qbench.data.scenes.canvas import Canvas
from qbench.data.scenes.classes import BUILDING, FENCE, VEGETATION, WALL
from qbench.data.scenes.ground import draw_ground
from qbench.data.scenes.layout import BLOCK_BUILDING, BLOCK_FENCE, BLOCK_WALL, Blocks, Scene
from qbench.data.scenes.noise import hash01, interp_grid


def draw_background(cv: Canvas, scene: Scene) -> None:
    H, W = cv.H, cv.W
    f, hc = cv.f, cv.hc
    px = ((np.arange(W) + 0.5) / W - cv.u_v) * cv.A  # (W,)
    py = (np.arange(H) + 0.5) / H - cv.v_h  # (H,)
    z_end = scene.street.z_end
    lab, img, depth = cv.lab, cv.img, cv.depth

    # ground rows: those whose ground point lies before the street end
    zg = np.full(H, np.inf)
    pos = py > 0
    zg[pos] = f * hc / py[pos]
    g_rows = np.nonzero(zg < z_end)[0]
    r0 = int(g_rows[0]) if g_rows.size else H

    # --- sky (only rows above the ground can show it)
    if r0 > 0:
        sky = scene.sky
        t = np.clip((np.arange(r0) + 0.5) / H / max(cv.v_h, 1e-3), 0.0, 1.0).astype(np.float32)[:, None, None]
        gradient = sky.top * (1.0 - t) + sky.horizon * t  # (r0, 1, 3)
        clouds = interp_grid(sky.clouds, H, W)[:r0]
        c = np.clip((clouds - np.float32(1.0 - sky.cloud_amount)) * 3.0, 0.0, 1.0)
        cloud_col = np.float32(min(255.0, float(sky.horizon.mean()) * 1.05))
        cl = (cloud_col * (0.85 + 0.15 * clouds) * c)[:, :, None]
        img[:r0] = (gradient * (1.0 - c[:, :, None]) + cl) * (1.0 + 0.02 * cv.nh[:r0])[:, :, None]

    lo_f = interp_grid(scene.facade_texture, H, W)
    # --- far facade across the street end (depth z_end)
    far = scene.far
    xe = px * z_end / f
    ye = hc - py[:r0] * z_end / f  # (r0,)
    bf, topf = far.heights(xe)
    mask = (ye[:, None] >= 0) & (ye[:, None] <= topf[None, :])
    rr, cc = np.nonzero(mask)
    if rr.size:
        _facade_pixels(cv, rr, cc, far, bf[cc], xe[cc] - far.edges[bf[cc]], ye[rr], z_end, 1.0, lo_f)

    # --- ground
    if r0 < H:
        Xg = (px[None, :] * (hc / py[r0:])[:, None]).astype(np.float32)  # (h, W) lateral position
        draw_ground(cv, scene, r0, zg[r0:].astype(np.float32), Xg)

    # --- side facades
    for side, blocks in ((-1, scene.blocks[0]), (1, scene.blocks[1])):
        xf = scene.street.facade_x[0 if side < 0 else 1]
        cols = np.nonzero(px * side > 1e-9)[0]
        if not cols.size:
            continue
        zs = f * xf / px[cols]
        keep = zs < z_end
        cols, zs = cols[keep], zs[keep]
        b, top = blocks.heights(zs)
        Y = (hc - py[:, None] * (zs / f)[None, :]).astype(np.float32)  # (H, ncols)
        m = (Y >= 0) & (Y <= top.astype(np.float32)[None, :])
        rr, cl = np.nonzero(m)
        if rr.size:
            light = scene.lighting.shade_side if side == scene.lighting.sun_side else 1.0
            s_along = (zs - blocks.edges[b]).astype(np.float32)
            _facade_pixels(cv, rr, cols[cl], blocks, b[cl], s_along[cl], Y[rr, cl], zs.astype(np.float32)[cl], light, lo_f)

    # --- ego-vehicle bonnet (ignore)
    if scene.hood is not None:
        hh, hcol = scene.hood.height, scene.hood.colour
        rb = max(0, int(H * (1.0 - hh)) - 1)
        u = (np.arange(W) + 0.5) / W
        yb = (1.0 - hh * (1.0 - 0.6 * ((u - 0.5) * 2.0) ** 2)) * H  # (W,)
        ys = (np.arange(rb, H) + 0.5)[:, None]
        m = ys >= yb[None, :]
        grad = np.clip((ys - yb[None, :]) / (hh * H), 0, 1).astype(np.float32)[m][:, None]
        img[rb:][m] = hcol[None, :] * (0.6 + 0.5 * grad) + 40.0 * (1 - grad)
        lab[rb:][m] = IGNORE
        depth[rb:][m] = 1.0


def _facade_pixels(cv: Canvas, rr, cc, blocks: Blocks, b, s, Y, Z, light, lo_f):
    """Colour and label facade pixels (rr, cc): block ``b``, ``s`` metres along the block, height ``Y``."""
    s = np.asarray(s, np.float32)
    Y = np.asarray(Y, np.float32)
    kind = blocks.kind[b]
    h_low = blocks.h_low.astype(np.float32)[b]
    nh = cv.nh[rr, cc]
    lo = lo_f[rr, cc]
    col = blocks.col
    out = np.empty((rr.size, 3), np.float32)
    cls = np.empty(rr.size, np.uint8)

    bld = np.nonzero(kind == BLOCK_BUILDING)[0]
    if bld.size:
        bb = b[bld]
        pz, pyy, fz, fy, oz, tint = blocks.windows.astype(np.float32)[bb].T
        sb, yb = s[bld] + oz, Y[bld]
        top = blocks.h_top.astype(np.float32)[bb]
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
            rnd = hash01(iz[wi].astype(np.int64), iy[wi].astype(np.int64), bb[wi])
            glass = np.array([40, 50, 60], np.float32) * (0.6 + 0.8 * rnd)[:, None] + np.array([60, 80, 110], np.float32) * tint[wi, None]
            glass[rnd > 0.93] = (220, 200, 140)  # lit window
            c[wi] = glass
        si = np.nonzero(shop)[0]
        if si.size:
            c[si] = np.array([35, 40, 45], np.float32) * (1.0 + 0.5 * lo[bld][si])[:, None]
        out[bld] = c * (1.0 + 0.06 * nh[bld])[:, None]
        cls[bld] = BUILDING

    veg = kind != BLOCK_BUILDING
    if veg.any():
        lower = veg & (Y <= h_low)
        upper = np.nonzero(veg & ~lower)[0]
        if upper.size:
            leaf = np.clip(0.55 + 0.6 * cv.nm[rr[upper], cc[upper]] + 0.2 * nh[upper], 0.15, 1.3)
            out[upper] = col[b[upper]] * leaf[:, None]
            cls[upper] = VEGETATION
        wall = np.nonzero(lower & (kind == BLOCK_WALL))[0]
        if wall.size:
            seam = ((Y[wall] % np.float32(0.3)) < 0.03) | ((s[wall] % np.float32(2.0)) < 0.04)
            f_ = np.where(seam, np.float32(0.8), np.float32(1.0)) * (1.0 + 0.07 * nh[wall] + 0.1 * (lo[wall] - 0.5))
            out[wall] = blocks.col2[b[wall]] * f_[:, None]
            cls[wall] = WALL
        fence = np.nonzero(lower & (kind == BLOCK_FENCE))[0]
        if fence.size:
            bfn = b[fence]
            sf, yf = s[fence], Y[fence]
            post = (sf % np.float32(2.5)) < 0.1
            rail = (np.abs(yf - h_low[fence] + 0.05) < 0.05) | (np.abs(yf - 0.1) < 0.05)
            q = np.float32(0.25)
            mesh = (((sf + yf) % q) < 0.04) | (((sf - yf) % q) < 0.04)
            solid = post | rail | mesh
            behind = col[bfn] * np.clip(0.4 + 0.4 * cv.nm[rr[fence], cc[fence]], 0.1, 1.0)[:, None]
            behind[solid] = blocks.col2[bfn][solid]
            out[fence] = behind * (1.0 + 0.05 * nh[fence])[:, None]
            cls[fence] = FENCE

    if light != 1.0:
        out *= np.float32(light)
    cv.img[rr, cc] = out
    cv.lab[rr, cc] = cls
    cv.depth[rr, cc] = Z
