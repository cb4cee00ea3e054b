"""Seeded case generators: one per public op, each mixing valid and hostile arguments.

The machinery (:class:`Case`, the chooser, ``out`` builders) is in ``base.py``; the
prepared-call generators (``ffaccel.prepare``) are in ``plans.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import ffaccel
from ffaccel.ops.paste_back import paste_areas
from ffaccel.ops.paste_insightface import INSIGHTFACE_COMPAT

from . import plans
from . import values as V
from .base import ALIASED, Case, _affine, _face_matrix, _Gen, _hw, _view_into, make_out  # noqa: F401 - ALIASED: the runner reads it here

def gen_warp(g: _Gen, batched: bool) -> tuple:
    dtype = g.pick([np.uint8, np.float32])
    c = g.pick([None, 1, 3, 4] if dtype == np.uint8 else [None, 1, 3])
    h, w = _hw(g)
    g.array("src", V.image(g.rng, h, w, c, dtype))
    n = int(g.rng.integers(1, 4))
    m = np.stack([_affine(g.rng) for _ in range(n)]) if batched else _affine(g.rng)
    m = g.matrix("matrix", m)
    dw, dh = _hw(g, 1, 24)
    dsize = g.scalar("dsize", (dw, dh)) if g.bad() else (dw, dh)
    border = g.pick(["replicate", "constant"]) if not g.bad() else g.pick(["wrap", 1, None])
    bval = g.pick([0, 3.5, (1, 2, 3), np.array([9.0, 8.0, 7.0]), np.array(4.0)])
    bval = g.scalar("border_value", bval)
    compat = g.pick([None, "opencv5.0", "opencv4", "opencv"])
    compat = g.scalar("compat", compat) if g.bad() else compat
    ch = () if c is None else (c,)
    shape = ((n,) if batched else ()) + (dh, dw) + ch
    spec = g.out_spec(["src"])
    fn = ffaccel.warp_affine_batch if batched else ffaccel.warp_affine
    g.tags += [f"{np.dtype(dtype)}x{c}", f"compat={compat}"]

    def call(arrs):
        return fn, (arrs["src"], m, dsize), dict(border=border, border_value=bval, compat=compat,
                                                 out=make_out(spec, arrs, shape, dtype))
    return call, {"out"}


def gen_paste(g: _Gen, batched: bool) -> tuple:
    c = g.pick([3, 4])
    H, W = _hw(g, 8, 48)
    g.array("frame", V.image(g.rng, H, W, c, np.uint8))
    crop_dtype, mask_dtype = g.pick([np.uint8, np.float32]), g.pick([np.float32, np.uint8])
    h, w = _hw(g, 2, 24)
    n = int(g.rng.integers(1, 4)) if batched else 1
    crops = np.stack([V.image(g.rng, h, w, c, crop_dtype) for _ in range(n)])
    masks = np.stack([V.mask(g.rng, h, w, mask_dtype) for _ in range(n)])
    g.array("crop", crops if batched else crops[0])
    g.array("mask", masks if batched else masks[0])
    ms = np.stack([_affine(g.rng, 0.5, 2.0, 20.0) for _ in range(n)])
    m = g.matrix("matrix", ms if batched else ms[0])
    blend = g.pick(["alpha", "alpha", "multiband"])
    compat = None if blend == "multiband" else g.pick([None, "facefusion-opencv5.0", "facefusion-opencv4",
                                                       "facefusion"])
    compat = g.scalar("compat", compat) if g.bad() else compat
    blend = g.scalar("blend", blend) if g.bad() else blend
    levels = g.scalar("levels", int(g.rng.integers(1, 6)))
    inplace = g.pick([False, True])
    spec = "none" if inplace else g.out_spec(["frame", "crop", "mask"])
    if inplace and g.bad():
        g.tags.append("out+inplace")
        spec = "fresh"
    fn = ffaccel.paste_back_batch if batched else ffaccel.paste_back
    g.tags += [f"crop={np.dtype(crop_dtype)}", f"mask={np.dtype(mask_dtype)}", f"blend={blend}",
               f"compat={compat}", f"inplace={inplace}", f"n={n}"]

    def call(arrs):
        return fn, (arrs["frame"], arrs["crop"], arrs["mask"], m), dict(
            compat=compat, inplace=inplace, blend=blend, levels=levels,
            out=make_out(spec, arrs, (H, W, c), np.uint8))
    return call, {"out", "frame"} if inplace else {"out"}


def gen_composite(g: _Gen) -> tuple:
    c = g.pick([3, 4])
    h, w = _hw(g)
    g.array("fg", V.image(g.rng, h, w, c, np.uint8))
    g.array("bg", V.image(g.rng, h, w, c, np.uint8))
    g.array("alpha", V.mask(g.rng, h, w, g.pick([np.uint8, np.float32])))
    band = g.pick([None, (30, 225), (0, 255), [10, 20]])
    band = g.scalar("band", band) if g.bad() else band
    feather = g.scalar("band_feather", g.pick([0.0, 0.15, 1.0]))
    spec = g.out_spec(["fg", "bg", "alpha"])
    writes = {"out"} | ({spec.split(":")[1]} if spec.startswith("same:") else set())

    def call(arrs):
        return ffaccel.composite, (arrs["fg"], arrs["bg"], arrs["alpha"]), dict(
            band=band, band_feather=feather, out=make_out(spec, arrs, (h, w, c), np.uint8))
    return call, writes


def gen_feather(g: _Gen) -> tuple:
    dtype = g.pick([np.uint8, np.float32])
    h, w = _hw(g)
    g.array("mask", V.mask(g.rng, h, w, dtype))
    sigma = g.scalar("sigma", g.pick([0.5, 1.0, 3.3, 1e-3, 12.0]))
    spec = g.out_spec(["mask"])

    def call(arrs):
        return ffaccel.feather_mask, (arrs["mask"], sigma), dict(out=make_out(spec, arrs, (h, w), dtype))
    return call, {"out"}


def gen_box_mask(g: _Gen) -> tuple:
    size = g.scalar("size", g.pick([16, (24, 16), 33]))
    blur = g.scalar("blur", g.pick([0.0, 0.3, 1.0]))
    padding = g.scalar("padding", g.pick([0, (5, 10, 0, 20), 100]))
    return (lambda arrs: (ffaccel.box_mask, (size, blur, padding), {})), set()


def gen_srgb(g: _Gen, to_linear: bool) -> tuple:
    dtype = g.pick([np.uint8, np.float32]) if to_linear else np.float32
    c = g.pick([None, 1, 3, 4])
    h, w = _hw(g)
    a = V.image(g.rng, h, w, c, dtype)
    if dtype == np.float32:
        a = (a / max(float(a.max()), 1.0)).astype(np.float32)
    g.array("img", a)
    fast = g.scalar("fast", g.pick([False, True]))
    out_dtype = np.float32 if to_linear else g.pick([np.float32, np.uint8])
    spec = g.out_spec(["img"])
    shape = (h, w) if c is None else (h, w, c)
    if to_linear:
        return (lambda arrs: (ffaccel.srgb_to_linear, (arrs["img"],),
                              dict(fast=fast, out=make_out(spec, arrs, shape, out_dtype)))), {"out"}
    return (lambda arrs: (ffaccel.linear_to_srgb, (arrs["img"],), dict(
        fast=fast, dtype=out_dtype, out=make_out(spec, arrs, shape, out_dtype)))), {"out"}


def gen_gain(g: _Gen) -> tuple:
    h, w = _hw(g)
    g.array("img", V.image(g.rng, h, w, 3, np.uint8))
    with_mask = g.pick([False, True])
    if with_mask:
        g.array("mask", V.mask(g.rng, h, w, g.pick([np.uint8, np.float32])))
    gains = g.scalar("gains", g.pick([(1.0, 2.0, 0.5), np.array([0.9, 1.1, 1.0]), [0, 0, 0]]))
    spec = g.out_spec(["img"] + (["mask"] if with_mask else []))
    return (lambda arrs: (ffaccel.apply_color_gain_linear, (arrs["img"], gains), dict(
        mask=arrs.get("mask"), out=make_out(spec, arrs, (h, w, 3), np.uint8)))), {"out"}


def gen_estimate(g: _Gen) -> tuple:
    h, w = _hw(g)
    g.array("src", V.image(g.rng, h, w, 3, np.uint8))
    g.array("ref", V.image(g.rng, h, w, 3, np.uint8))
    g.array("mask", V.mask(g.rng, h, w, g.pick([np.uint8, np.float32])))
    min_mean = g.scalar("min_mean", 1e-6)
    return (lambda arrs: (ffaccel.estimate_color_gains, (arrs["src"], arrs["ref"], arrs["mask"]),
                          dict(min_mean=min_mean))), set()


def gen_hysteresis(g: _Gen) -> tuple:
    dtype = g.pick([np.uint8, np.float32])
    h, w = _hw(g)
    g.array("mask", V.mask(g.rng, h, w, dtype))
    g.array("prev", V.mask(g.rng, h, w, dtype))
    scale = 255 if dtype == np.uint8 else 1
    t_in = g.scalar("t_in", 0.05 * scale)
    t_out = g.scalar("t_out", 0.1 * scale)
    roi = g.pick([None, (0, 0, w, h), (w // 4, h // 4, w // 2, h // 2), (0, 0, 0, 0)])
    roi = g.scalar("roi", roi) if g.bad() else roi
    spec = g.out_spec(["mask", "prev"])
    writes = {"out"} | ({spec.split(":")[1]} if spec.startswith("same:") else set())
    return (lambda arrs: (ffaccel.mask_hysteresis, (arrs["mask"], arrs["prev"]), dict(
        t_in=t_in, t_out=t_out, roi=roi, out=make_out(spec, arrs, (h, w), dtype)))), writes


def gen_seam_ring(g: _Gen) -> tuple:
    dtype = g.pick([np.uint8, np.float32])
    h, w = _hw(g)
    g.array("mask", V.mask(g.rng, h, w, dtype))
    scale = 255 if dtype == np.uint8 else 1
    lo = g.scalar("lo", 0.0)
    hi = g.scalar("hi", 1.0 * scale)
    return (lambda arrs: (ffaccel.seam_ring, (arrs["mask"], lo, hi), {})), set()


def gen_tracker(g: _Gen) -> tuple:
    dtype = g.pick([np.uint8, np.float32])
    h, w = _hw(g)
    g.array("m1", V.mask(g.rng, h, w, dtype))
    g.array("m2", V.mask(g.rng, h, w, dtype))
    scale = 255 if dtype == np.uint8 else 1
    t_in = g.scalar("t_in", 0.05 * scale)
    ring = g.pick([None, (0.1 * scale, 0.9 * scale)])
    ring = g.scalar("ring", ring) if g.bad() else ring

    def run(m1, m2):
        track = ffaccel.MaskHysteresis(t_in=t_in, t_out=0.05 * scale, ring=ring)
        track.update(m1)
        return track.update(m2)
    return (lambda arrs: (run, (arrs["m1"], arrs["m2"]), {})), set()


STATE = "state"  # gen_color_transfer: a fresh ColorTransferState


def gen_color_transfer(g: _Gen) -> tuple:
    dtype = g.pick([np.uint8, np.float32])
    h, w = _hw(g, 2, 32)
    g.array("src", V.image(g.rng, h, w, 3, dtype))
    g.array("ref", V.image(g.rng, h, w, 3, dtype))
    g.array("mask", np.maximum(V.mask(g.rng, h, w, np.float32), 0.2).astype(np.float32))
    method = g.pick(["reinhard_lab", "linear_gain", "mkl"])
    method = g.scalar("method", method) if g.bad() else method
    state = g.pick([None, STATE])
    state = g.scalar("state", state) if g.bad() else state
    track = g.scalar("track", 0) if g.bad() else 0

    def run(src, ref, mask):
        # `is`, not ==: a hostile state (an array) must reach the op, not fail this comparison
        st = ffaccel.ColorTransferState() if state is STATE else state
        return ffaccel.color_transfer(src, ref, mask, method, state=st, track=track)
    return (lambda arrs: (run, (arrs["src"], arrs["ref"], arrs["mask"]), {})), set()


def gen_boundary(g: _Gen) -> tuple:
    c = g.pick([3, 4])
    h, w = _hw(g, 4, 40)
    g.array("frame", V.image(g.rng, h, w, c, np.uint8))
    m = np.zeros((h, w), np.float32)
    m[h // 4: 3 * h // 4 + 1, w // 4: 3 * w // 4 + 1] = 1
    g.array("mask", m)
    width = g.scalar("width", int(g.rng.integers(1, 8)))
    inplace = g.pick([False, True])
    spec = "none" if inplace else g.out_spec(["frame", "mask"])
    return (lambda arrs: (ffaccel.boundary_blend, (arrs["frame"], arrs["mask"], width), dict(
        inplace=inplace, out=make_out(spec, arrs, (h, w, c), np.uint8)))), {"out", "frame"} if inplace else {"out"}


def gen_paste_areas(g: _Gen) -> tuple:
    fs = g.scalar("frame_size", (64, 48)) if g.bad() else (64, 48)
    m = g.matrix("matrices", np.stack([_affine(g.rng) for _ in range(2)]))
    return (lambda arrs: (paste_areas, (fs, (16, 16), m), {})), set()


def gen_paste_insightface(g: _Gen) -> tuple:
    H, W = _hw(g, 1, 64)
    if g.rng.random() < 0.03:  # a frame of >= 1 MiB: results come from the op's pool of frames
        H, W = int(g.rng.integers(600, 680)), int(g.rng.integers(600, 680))
    h, w = _hw(g, 2, 32)
    g.array("frame", V.image(g.rng, H, W, 3, np.uint8))
    crop = V.image(g.rng, h, w, 3, np.uint8)
    if g.rng.random() < 0.2:  # stock's bgr_fake[:, :, ::-1]: a valid non-contiguous crop
        crop = crop[:, :, ::-1]
        g.tags.append("crop=channels-reversed")
    g.array("crop", crop)
    m = g.matrix("matrix", _face_matrix(g.rng, H, W, h, w))
    compat = g.pick(list(INSIGHTFACE_COMPAT))
    compat = g.scalar("compat", compat) if g.bad() else compat
    inplace = g.pick([False, True])
    inplace = g.scalar("inplace", inplace) if g.bad() else inplace
    spec = "none" if inplace is True else g.out_spec(["frame", "crop"])
    if inplace is True and g.bad():
        g.tags.append("out+inplace")
        spec = "fresh"
    in_frame = g.rng.random() < 0.06  # the crop is a view into the frame's memory: refused
    if in_frame:
        g.tags.append("crop=in-frame")
    g.tags += [f"{H}x{W}", f"crop={h}x{w}", f"compat={compat}", f"inplace={inplace}"]

    def call(arrs):
        crop = arrs["crop"]
        if in_frame:
            crop = _view_into(arrs["frame"], (h, w, 3), crop)
        return ffaccel.paste_back_insightface, (arrs["frame"], crop, m), dict(
            compat=compat, inplace=inplace, out=make_out(spec, arrs, (H, W, 3), np.uint8))
    return call, {"out", "frame"} if inplace is True else {"out"}


GENERATORS: dict[str, Callable[[_Gen], tuple]] = {
    "warp_affine": lambda g: gen_warp(g, False),
    "warp_affine_batch": lambda g: gen_warp(g, True),
    "paste_back": lambda g: gen_paste(g, False),
    "paste_back_batch": lambda g: gen_paste(g, True),
    "composite": gen_composite,
    "feather_mask": gen_feather,
    "box_mask": gen_box_mask,
    "srgb_to_linear": lambda g: gen_srgb(g, True),
    "linear_to_srgb": lambda g: gen_srgb(g, False),
    "apply_color_gain_linear": gen_gain,
    "estimate_color_gains": gen_estimate,
    "mask_hysteresis": gen_hysteresis,
    "seam_ring": gen_seam_ring,
    "MaskHysteresis": gen_tracker,
    "color_transfer": gen_color_transfer,
    "boundary_blend": gen_boundary,
    "paste_areas": gen_paste_areas,
    "paste_back_insightface": gen_paste_insightface,
    "WarpPlan": plans.gen_warp_plan,
    "PastePlan": plans.gen_paste_plan,
    "FeatherPlan": plans.gen_feather_plan,
    "InsightfacePlan": plans.gen_insightface_plan,
}
EXEMPT = {"boundary_blend"}  # color_transfer: same bytes since its sums are exact (docs/blending.md)


def make_case(seed: int, index: int) -> Case:
    rng = np.random.default_rng([seed, index])
    ops = list(GENERATORS)
    op = ops[index % len(ops)]
    g = _Gen(rng)
    call, writes, *plain = GENERATORS[op](g)
    return Case(index, op, g.tags, g.arrays, call, writes, op in EXEMPT, seed, plain[0] if plain else None)
