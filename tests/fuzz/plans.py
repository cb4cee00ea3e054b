"""Prepared calls under hostile arguments: ``ffaccel.prepare`` and its WarpPlan, PastePlan, FeatherPlan,
InsightfacePlan.

A plan case prepares a plan from a valid example call, then calls the plan with
per-frame arguments that may be hostile: a copy of the example's array (the plan's
prepared path), new values of the same signature (the prepared path too), or a valid
array of another shape (the plan hands it to the plain op), each then spoiled as in every
other case (read-only, memmap, NaN, wrong dtype, ...); a new matrix that may be hostile;
an ``out`` that may be read-only, overlap an input (at the prepared signature, so the
prepared path must see the overlap), or be an input itself; for paste plans, a crop that is
a view into the frame. The case's ``plain`` is the plain op's call on the same per-frame
arguments with the plan's fixed ones. The runner runs it on a fresh copy of the case and
reports any difference in status, bytes, error message or writes ("plan-differs"): a plan
must refuse, or fall back, exactly as the plain op does.

In about one case in eight the example call itself is hostile (each of its arguments
spoiled with a higher chance) and the plan is called with the example's own arguments:
``prepare`` must refuse with the plain op's error for that call, or the plan give the
plain op's bytes. The op may be named by its string, or (hostile) be something else.
"""

from __future__ import annotations

import numpy as np

import ffaccel
from ffaccel.ops.paste_insightface import INSIGHTFACE_COMPAT

from . import values as V
from .base import _affine, _face_matrix, _Gen, _hw, _view_into, make_out

HOSTILE_EXAMPLE = 0.12  # chance that the example call is hostile
P_EXAMPLE = 0.3  # chance per argument of a hostile example that it is spoiled


def _op(g: _Gen, fn, hostile: bool) -> tuple[object, bool]:
    """``prepare``'s first argument: the function or its name, or (hostile example) a bad
    value; the flag says whether the plain op is a reference for the case."""
    if hostile and g.bad():
        tag, bad = g.pick([("op=composite", ffaccel.composite), ("op=name-typo", fn.__name__ + "_"),
                           ("op=None", None), ("op=lambda", lambda *a, **k: None)])
        g.tags.append(tag)
        return bad, False
    return (fn.__name__ if g.rng.random() < 0.3 else fn), True


def _hostile_example(g: _Gen) -> bool:
    if g.rng.random() < HOSTILE_EXAMPLE:
        g.tags.append("example=hostile")
        g.p = P_EXAMPLE
        return True
    return False


def _per_frame(g: _Gen, name: str, ex: np.ndarray, remake, other: tuple | None = None) -> tuple:
    """Store the per-frame array ``name`` for the example ``ex`` (then maybe spoil it); returns
    the shape argument given to ``remake`` (``other`` where it took another shape)."""
    how = g.pick(["copy", "new", "new", "new", "other"] if other is not None else ["copy", "new"])
    if how == "other":
        g.tags.append(f"{name}=other-shape")
        a, key = remake(other), other
    else:
        a, key = (ex.copy() if how == "copy" else remake(None)), None
    g.array(name, a)
    return key


def _out_spec(g: _Gen, ex_spec: str, inputs: list[str]) -> str:
    """The per-frame ``out``: as in the example (so the prepared path is taken) four times
    in ten, else any of :meth:`_Gen.out_spec`'s (hostile ones included)."""
    return ex_spec if g.rng.random() < 0.4 else g.out_spec(inputs)


def gen_warp_plan(g: _Gen) -> tuple:
    batched = g.pick([False, True])
    fn = ffaccel.warp_affine_batch if batched else ffaccel.warp_affine
    dtype = g.pick([np.uint8, np.float32])
    c = g.pick([None, 1, 3, 4] if dtype == np.uint8 else [None, 1, 3])
    h, w = _hw(g)
    n = int(g.rng.integers(1, 4))
    dw, dh = _hw(g, 1, 24)
    dsize, border = (dw, dh), g.pick(["replicate", "constant"])
    bval, compat = g.pick([0, 3.5, (1, 2, 3)]), g.pick([None, "opencv5.0", "opencv4"])
    ch = () if c is None else (c,)
    ex_spec = g.pick(["none", "fresh"])
    g.tags += ["batch" if batched else "single", f"{np.dtype(dtype)}x{c}", f"compat={compat}", f"example-out={ex_spec}"]

    def img(hw):
        return V.image(g.rng, *(hw or (h, w)), c, dtype)

    def mats(k):
        return np.stack([_affine(g.rng) for _ in range(k)]) if batched else _affine(g.rng)

    hostile = _hostile_example(g)
    op, has_plain = _op(g, fn, hostile)
    k = n
    if hostile:
        g.array("src", img(None))
        m = ex_m = g.matrix("matrix", mats(n))
        dsize = g.scalar("dsize", dsize) if g.bad() else dsize
        bval = g.scalar("border_value", bval)
        spec = g.out_spec(["src"]) if g.bad() else ex_spec
    else:
        g.arrays["ex_src"] = img(None)
        ex_m = mats(n)
        _per_frame(g, "src", g.arrays["ex_src"], img, _hw(g))
        if batched and g.rng.random() < 0.15:
            k = int(g.rng.integers(1, 5))
            g.tags.append(f"matrices={k}")
        m = g.matrix("matrix", mats(k))
        spec = _out_spec(g, ex_spec, ["src"])
    fixed = dict(border=border, border_value=bval, compat=compat)
    shape = ((k,) if batched else ()) + (dh, dw) + ch
    ex_shape = ((n,) if batched else ()) + (dh, dw) + ch

    def call(arrs):
        ex_src = arrs["src"] if hostile else arrs["ex_src"]

        def run(src, matrix, out=None):
            ex_out = out if hostile else make_out(ex_spec, arrs, ex_shape, dtype)
            plan = ffaccel.prepare(op, ex_src, ex_m, dsize, **fixed, out=ex_out)
            return plan(src, matrix, out=out)
        return run, (arrs["src"], m), {"out": make_out(spec, arrs, shape, dtype)}

    def plain(arrs):
        return fn, (arrs["src"], m, dsize), dict(**fixed, out=make_out(spec, arrs, shape, dtype))
    return call, {"out"}, plain if has_plain else None


def gen_paste_plan(g: _Gen) -> tuple:
    batched = g.pick([False, True])
    fn = ffaccel.paste_back_batch if batched else ffaccel.paste_back
    c = g.pick([3, 4])
    H, W = _hw(g, 8, 48)
    crop_dtype, mask_dtype = g.pick([np.uint8, np.float32]), g.pick([np.float32, np.uint8])
    h, w = _hw(g, 2, 24)
    n = int(g.rng.integers(1, 4)) if batched else 1
    blend = g.pick(["alpha", "alpha", "multiband"])
    compat = None if blend == "multiband" else g.pick([None, "facefusion-opencv5.0", "facefusion-opencv4"])
    if compat is not None:
        mask_dtype = np.float32  # the facefusion modes take float32 masks only
    levels = int(g.rng.integers(1, 6))
    inplace = g.pick([False, True])
    ex_spec = "none" if inplace else g.pick(["none", "fresh"])
    crop_shape = ((n,) if batched else ()) + (h, w, c)
    g.tags += [f"crop={np.dtype(crop_dtype)}", f"mask={np.dtype(mask_dtype)}", f"blend={blend}",
               f"compat={compat}", f"inplace={inplace}", f"n={n}", f"example-out={ex_spec}"]

    def frame(hw):
        return V.image(g.rng, *(hw or (H, W)), c, np.uint8)

    def crops(_=None):
        x = np.stack([V.image(g.rng, h, w, c, crop_dtype) for _ in range(n)])
        return x if batched else x[0]

    def masks(_=None):
        x = np.stack([V.mask(g.rng, h, w, mask_dtype) for _ in range(n)])
        return x if batched else x[0]

    def mats():
        ms = np.stack([_affine(g.rng, 0.5, 2.0, 20.0) for _ in range(n)])
        return ms if batched else ms[0]

    hostile = _hostile_example(g)
    op, has_plain = _op(g, fn, hostile)
    hw = (H, W)
    if hostile:
        g.array("frame", frame(None))
        g.array("crop", crops())
        g.array("mask", masks())
        m = ex_m = g.matrix("matrix", mats())
        levels = g.scalar("levels", levels)
        spec = g.out_spec(["frame", "crop", "mask"]) if not inplace and g.bad() else ex_spec
    else:
        g.arrays.update(ex_frame=frame(None), ex_crop=crops(), ex_mask=masks())
        ex_m = mats()
        hw = _per_frame(g, "frame", g.arrays["ex_frame"], frame, _hw(g, 8, 48)) or hw
        _per_frame(g, "crop", g.arrays["ex_crop"], crops)
        _per_frame(g, "mask", g.arrays["ex_mask"], masks)
        m = g.matrix("matrix", mats())
        spec = "none" if inplace else _out_spec(g, ex_spec, ["frame", "crop", "mask"])
    if inplace and g.bad():
        g.tags.append("out+inplace")
        spec = "fresh"
    in_frame = crop_dtype == np.uint8 and g.rng.random() < 0.1  # a crop inside the frame's memory
    if in_frame:
        g.tags.append("crop=in-frame")
    fixed = dict(compat=compat, inplace=inplace, blend=blend, levels=levels)
    shape = (*hw, c)

    def args(arrs):
        crop = _view_into(arrs["frame"], crop_shape, arrs["crop"]) if in_frame else arrs["crop"]
        return arrs["frame"], crop, arrs["mask"], m

    def call(arrs):
        def run(frame, crop, mask, matrix, out=None):
            if hostile:
                plan = ffaccel.prepare(op, frame, crop, mask, matrix, **fixed, out=out)
            else:
                plan = ffaccel.prepare(op, arrs["ex_frame"], arrs["ex_crop"], arrs["ex_mask"], ex_m, **fixed,
                                       out=make_out(ex_spec, arrs, (H, W, c), np.uint8))
            return plan(frame, crop, mask, matrix, out=out)
        return run, args(arrs), {"out": make_out(spec, arrs, shape, np.uint8)}

    def plain(arrs):
        return fn, args(arrs), dict(**fixed, out=make_out(spec, arrs, shape, np.uint8))
    return call, {"out", "frame"} if inplace else {"out"}, plain if has_plain else None


def gen_feather_plan(g: _Gen) -> tuple:
    dtype = g.pick([np.uint8, np.float32])
    h, w = _hw(g)
    sigma = g.pick([0.5, 1.0, 3.3, 1e-3, 12.0])
    ex_spec = g.pick(["none", "fresh"])
    g.tags += [f"{np.dtype(dtype)}", f"sigma={sigma}", f"example-out={ex_spec}"]

    def msk(hw):
        return V.mask(g.rng, *(hw or (h, w)), dtype)

    hostile = _hostile_example(g)
    op, has_plain = _op(g, ffaccel.feather_mask, hostile)
    hw = (h, w)
    if hostile:
        g.array("mask", msk(None))
        sigma = g.scalar("sigma", sigma)
        spec = g.out_spec(["mask"]) if g.bad() else ex_spec
    else:
        g.arrays["ex_mask"] = msk(None)
        hw = _per_frame(g, "mask", g.arrays["ex_mask"], msk, _hw(g)) or hw
        spec = _out_spec(g, ex_spec, ["mask"])

    def call(arrs):
        def run(mask, out=None):
            if hostile:
                plan = ffaccel.prepare(op, mask, sigma, out=out)
            else:
                plan = ffaccel.prepare(op, arrs["ex_mask"], sigma, out=make_out(ex_spec, arrs, (h, w), dtype))
            return plan(mask, out=out)
        return run, (arrs["mask"],), {"out": make_out(spec, arrs, hw, dtype)}

    def plain(arrs):
        return ffaccel.feather_mask, (arrs["mask"], sigma), {"out": make_out(spec, arrs, hw, dtype)}
    return call, {"out"}, plain if has_plain else None


def gen_insightface_plan(g: _Gen) -> tuple:
    H, W = _hw(g, 8, 64)
    h, w = _hw(g, 2, 32)
    compat = g.pick(list(INSIGHTFACE_COMPAT))
    inplace = g.pick([False, True])
    ex_spec = "none" if inplace else g.pick(["none", "fresh"])
    g.tags += [f"compat={compat}", f"inplace={inplace}", f"crop={h}x{w}", f"example-out={ex_spec}"]

    def frame(hw):
        return V.image(g.rng, *(hw or (H, W)), 3, np.uint8)

    def crop(_=None):
        return V.image(g.rng, h, w, 3, np.uint8)

    hostile = _hostile_example(g)
    op, has_plain = _op(g, ffaccel.paste_back_insightface, hostile)
    hw = (H, W)
    if hostile:
        g.array("frame", frame(None))
        g.array("crop", crop())
        m = ex_m = g.matrix("matrix", _face_matrix(g.rng, H, W, h, w))
        compat = g.scalar("compat", compat) if g.bad() else compat
        spec = g.out_spec(["frame", "crop"]) if not inplace and g.bad() else ex_spec
    else:
        g.arrays.update(ex_frame=frame(None), ex_crop=crop())
        ex_m = _face_matrix(g.rng, H, W, h, w)
        hw = _per_frame(g, "frame", g.arrays["ex_frame"], frame, _hw(g, 8, 64)) or hw
        _per_frame(g, "crop", g.arrays["ex_crop"], crop)
        m = g.matrix("matrix", _face_matrix(g.rng, *hw, h, w))
        spec = "none" if inplace else _out_spec(g, ex_spec, ["frame", "crop"])
    if inplace and g.bad():
        g.tags.append("out+inplace")
        spec = "fresh"
    in_frame = g.rng.random() < 0.1  # a crop inside the frame's memory: refused
    if in_frame:
        g.tags.append("crop=in-frame")
    fixed = dict(compat=compat, inplace=inplace)
    shape = (*hw, 3)

    def args(arrs):
        c = _view_into(arrs["frame"], (h, w, 3), arrs["crop"]) if in_frame else arrs["crop"]
        return arrs["frame"], c, m

    def call(arrs):
        def run(frame, crop, matrix, out=None):
            if hostile:
                plan = ffaccel.prepare(op, frame, crop, matrix, **fixed, out=out)
            else:
                plan = ffaccel.prepare(op, arrs["ex_frame"], arrs["ex_crop"], ex_m, **fixed,
                                       out=make_out(ex_spec, arrs, (H, W, 3), np.uint8))
            return plan(frame, crop, matrix, out=out)
        return run, args(arrs), {"out": make_out(spec, arrs, shape, np.uint8)}

    def plain(arrs):
        return ffaccel.paste_back_insightface, args(arrs), dict(**fixed, out=make_out(spec, arrs, shape, np.uint8))
    return call, {"out", "frame"} if inplace else {"out"}, plain if has_plain else None
