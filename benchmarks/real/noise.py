"""Detector noise report (MTCNN, or Face Mesh): rigid versus per-point share, temporal spectrum, scaling with face size."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ffaccel.stability import _realdata as rd

MOVING = ("slow_pan", "shaky", "nod", "turn", "zoom")
INDEPENDENT = {"translation": 0.2, "similarity": 0.4, "affine": 0.6}


def analyse(clips: list[dict]) -> dict:
    """Noise statistics of the raw detections, by photo, still / moving and scale."""
    per_clip = []
    for c in clips:
        if c["scenario"] not in ("still", *MOVING):
            continue
        s = rd.noise_split(c["detected"], c["truth"], c["cuts"])
        if s.get("n", 0) < 20:
            continue
        s.update(scenario=c["scenario"], res=c["res"], face_px=c["face_px"], photo=c["photo"])
        per_clip.append(s)
    out = {"per_clip": per_clip, "groups": {}, "scaling": {}, "spectra": {}}
    photos = sorted({s["photo"] for s in per_clip})
    for photo in photos:
        for group, names in (("still", ("still",)), ("moving", MOVING)):
            sel = [s for s in per_clip if s["scenario"] in names and s["photo"] == photo]
            if sel:
                out["groups"][f"{photo} {group}"] = {
                    "clips": len(sel),
                    **{k: float(np.mean([s[k] for s in sel])) for k in ("translation", "similarity", "affine", "rho1")},
                    **{f"min_{k}": float(np.min([s[k] for s in sel])) for k in ("translation", "similarity")},
                }
        rows = []
        for res, face in sorted({(s["res"], s["face_px"]) for s in per_clip if s["photo"] == photo},
                                key=lambda c: (c[1], c[0])):
            sel = [s for s in per_clip if s["photo"] == photo and s["res"] == res and s["face_px"] == face]
            rows.append({"res": res, "face_px": face,
                         "sigma_px": float(np.sqrt(np.mean([s["sigma_px"] ** 2 for s in sel]))),
                         "sigma_pct": float(np.sqrt(np.mean([s["sigma_pct"] ** 2 for s in sel])))})
        slope = float("nan")
        if len(rows) >= 2:
            slope = float(np.polyfit(np.log([r["face_px"] for r in rows]), np.log([r["sigma_px"] for r in rows]), 1)[0])
        out["scaling"][photo] = {"rows": rows, "slope_px_vs_face": slope}
    out["spectra"] = spectra([c for c in clips if c["photo"] != "camera"])
    return out


def _components(c: dict) -> tuple[np.ndarray, np.ndarray]:
    """(T, 2) rigid translation part and (T, 10) per-point residual of the error, % F."""
    e = rd.normalised_error(c["detected"], c["truth"]) * 100
    sim = rd.project(e, c["truth"], "similarity")
    trans = e.mean(axis=1)
    return trans, (e - sim).reshape(len(e), -1)


def spectra(clips: list[dict]) -> dict:
    """Mean periodograms (% F)^2/Hz of the translation part and of the residual, still vs moving."""
    out = {}
    for group, names in (("still", ("still",)), ("slow_pan", ("slow_pan",)), ("moving", MOVING)):
        tr, re_ = [], []
        for c in clips:
            if c["scenario"] in names and np.all(np.isfinite(c["detected"])):
                a, b = _components(c)
                f, p = rd.spectrum(a)
                tr.append(p)
                re_.append(rd.spectrum(b)[1])
        if tr:
            pt, pr = np.mean(tr, axis=0), np.mean(re_, axis=0)
            out[group] = {"freq": f.tolist(), "translation": pt.tolist(), "residual": pr.tolist(),
                          "band_ratio_translation": rd.band_ratio(f, pt), "band_ratio_residual": rd.band_ratio(f, pr),
                          "clips": len(tr)}
    return out


def tables(noise: dict, detector: str = "MTCNN") -> list[str]:
    lines = [f"### {detector} noise: share of the frame-to-frame error energy", "",
             "| photo, clips | n | translation | similarity (transl.+scale+rotation) | affine | lag-1 autocorrelation |",
             "|---|---|---|---|---|---|"]
    for g, v in noise["groups"].items():
        lines.append(f"| {g} | {v['clips']} | {100 * v['translation']:.0f} % | {100 * v['similarity']:.0f} % | "
                     f"{100 * v['affine']:.0f} % | {v['rho1']:.2f} |")
    lines.append(f"| independent noise (expected) | - | {100 * INDEPENDENT['translation']:.0f} % | "
                 f"{100 * INDEPENDENT['similarity']:.0f} % | {100 * INDEPENDENT['affine']:.0f} % | 0 |")
    photos = list(noise["scaling"])
    lines += ["", f"### {detector} noise level by face size: sigma per coordinate (RMS frame difference / sqrt 2), "
              "px and % F, still and moving clips", "",
              "| resolution | face px | " + " | ".join(photos) + " |", "|---|---|" + "---|" * len(photos)]
    combos = sorted({(r["res"], r["face_px"]) for p in photos for r in noise["scaling"][p]["rows"]},
                    key=lambda c: (c[1], c[0]))
    for res, face in combos:
        cells = []
        for p in photos:
            r = next((r for r in noise["scaling"][p]["rows"] if (r["res"], r["face_px"]) == (res, face)), None)
            cells.append(f"{r['sigma_px']:.2f} px = {r['sigma_pct']:.2f} %" if r else "-")
        lines.append(f"| {res} | {face} | " + " | ".join(cells) + " |")
    lines += ["", "log-log slope of sigma (px) against the face width: " + ", ".join(
        f"{p} {noise['scaling'][p]['slope_px_vs_face']:.2f}" for p in photos)
        + " (1 = sigma grows in proportion to the face, 0 = a fixed number of pixels)", "",
        "### Spectrum (frontal photos): mean power below 3 Hz over mean power above 10 Hz (1 = white)", "",
        "| clips | translation part | per-point residual |", "|---|---|---|"]
    for g, v in noise["spectra"].items():
        lines.append(f"| {g} ({v['clips']} clips) | {v['band_ratio_translation']:.2f} | {v['band_ratio_residual']:.2f} |")
    return lines


def plot(noise: dict, path: Path, detector: str = "MTCNN") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.4), dpi=80)
    ax = axes[0]
    styles = {"still": "tab:blue", "slow_pan": "tab:orange", "moving": "tab:red"}
    for g, v in noise["spectra"].items():
        f = np.asarray(v["freq"])
        ax.semilogy(f[1:], np.asarray(v["translation"])[1:], color=styles[g], label=f"{g}: translation")
        ax.semilogy(f[1:], np.asarray(v["residual"])[1:], color=styles[g], ls="--", label=f"{g}: residual")
    ax.set_xlabel("frequency (Hz, 30 fps)")
    ax.set_ylabel("power ((% F)^2 / Hz)")
    ax.set_title(f"{detector} error spectrum (frontal photos)")
    ax.legend(fontsize=7)
    ax = axes[1]
    for (photo, v), mk in zip(noise["scaling"].items(), "os^D"):
        rows = v["rows"]
        if rows:
            ax.loglog([r["face_px"] for r in rows], [r["sigma_px"] for r in rows], mk, label=photo)
    f = np.array([60.0, 700.0])
    for pct in (0.5, 1.0, 2.0):
        ax.loglog(f, f * pct / 100, color="0.8", lw=0.8, zorder=0)
        ax.text(f[1], f[1] * pct / 100, f"{pct:g} % F", fontsize=6, color="0.5")
    ax.set_xlabel("face width F (px)")
    ax.set_ylabel("sigma per coordinate (px)")
    ax.set_title("noise against face size")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
