"""``ffaccel demo`` with numpy alone: OpenCV, matplotlib and scikit-image hidden.

The optional packages are hidden by putting None in ``sys.modules`` for them and every
submodule already imported, which makes ``import cv2`` (etc.) raise ImportError.
"""

from __future__ import annotations

import json
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from ffaccel._checks import affine_inverse
from ffaccel.cli import main
from ffaccel.demo import OPTIONAL, missing_optional
from ffaccel.demo.clip import (
    FACES_PATH,
    SOURCE_CROP,
    SOURCE_FIVE,
    SOURCE_FIVE_ORIGINAL,
    TARGET_CROP,
    TARGET_FIVE,
    TARGET_FIVE_ORIGINAL,
    gaussian_blur,
    load_faces,
)
from ffaccel.demo.pipeline import (
    arcface_128_v2,
    estimate_matrix,
    estimate_similarity,
)
from ffaccel.demo.report import format_timing_table, timing_summary
from ffaccel.demo.runner import write_png

FRAMES, WIDTH, HEIGHT, CROP = 6, 320, 240, 128
NOTE_CV2 = OPTIONAL["cv2"]
NOTE_MPL = OPTIONAL["matplotlib"]


def hide(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make ``import <module>`` (and its submodules) fail for the rest of the test."""
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)
        for key in [k for k in sys.modules if k.startswith(name + ".")]:
            monkeypatch.setitem(sys.modules, key, None)


def read_png(path: Path) -> np.ndarray:
    """Decode an 8-bit RGB or grey PNG whose rows all use filter 0 (what write_png writes) -> BGR / grey."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert header is not None and kind == b"IEND"
    width, height, depth, color, *_ = header
    assert depth == 8 and color in (0, 2)
    channels = 3 if color == 2 else 1
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + width * channels)
    assert not rows[:, 0].any()
    img = rows[:, 1:].reshape(height, width, channels)
    return img[:, :, ::-1] if channels == 3 else img[:, :, 0]


# ------------------------------------------------------------------ the shipped faces


def test_shipped_faces_load_without_skimage_matplotlib_or_cv2(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "skimage", "matplotlib", "cv2")
    target, source = load_faces()
    assert target.shape == (TARGET_CROP[2], TARGET_CROP[3], 3) and target.dtype == np.uint8
    assert source.shape == (SOURCE_CROP[2], SOURCE_CROP[3], 3) and source.dtype == np.uint8
    assert target.std() > 20 and source.std() > 20  # photographs, not blank arrays
    assert FACES_PATH.stat().st_size < 600 * 1024


def test_landmarks_are_the_annotation_shifted_by_the_crop_corner() -> None:
    np.testing.assert_array_equal(TARGET_FIVE, TARGET_FIVE_ORIGINAL - [TARGET_CROP[1], TARGET_CROP[0]])
    np.testing.assert_array_equal(SOURCE_FIVE, SOURCE_FIVE_ORIGINAL - [SOURCE_CROP[1], SOURCE_CROP[0]])
    target, source = load_faces()
    for five, img in ((TARGET_FIVE, target), (SOURCE_FIVE, source)):
        assert (five > 20).all() and (five[:, 0] < img.shape[1] - 20).all() and (five[:, 1] < img.shape[0] - 20).all()


def test_shipped_faces_are_crops_of_the_original_photos() -> None:
    pytest.importorskip("skimage")
    pytest.importorskip("matplotlib")
    from tools.make_faces import original_faces, shipped_faces_from_originals

    rebuilt = shipped_faces_from_originals()
    target, source = load_faces()  # BGR
    np.testing.assert_array_equal(target[:, :, ::-1], rebuilt["target"])  # a PNG-decoded array: exact
    # grace_hopper.jpg goes through the installed JPEG decoder; allow for another libjpeg's rounding.
    assert np.abs(source[:, :, ::-1].astype(int) - rebuilt["source"]).max() <= 4
    # The crop is a cut of the original at the recorded corner: the annotated points see the same pixels.
    original_target, _ = original_faces()
    t, l = TARGET_CROP[:2]
    for (x, y), (xo, yo) in zip(TARGET_FIVE.round().astype(int), TARGET_FIVE_ORIGINAL.round().astype(int)):
        np.testing.assert_array_equal(target[y, x, ::-1], original_target[yo, xo])
        assert (xo - x, yo - y) == (l, t)


def test_make_faces_writes_the_same_arrays(tmp_path: Path) -> None:
    pytest.importorskip("skimage")
    pytest.importorskip("matplotlib")
    from tools.make_faces import main as make_faces

    assert make_faces([str(tmp_path / "f.npz")]) == 0
    with np.load(tmp_path / "f.npz") as new, np.load(FACES_PATH) as shipped:
        assert set(new.files) == set(shipped.files) == {"target", "source"}
        np.testing.assert_array_equal(new["target"], shipped["target"])
        assert np.abs(new["source"].astype(int) - shipped["source"]).max() <= 4


# ------------------------------------------------------------------ numpy replacements


def invert_affine(m: np.ndarray) -> np.ndarray:
    """The (2, 3) inverse, by ffaccel's one inversion (OpenCV's formula)."""
    return affine_inverse(m[None], "matrix").reshape(2, 3)


def test_least_squares_similarity_recovers_a_known_transform() -> None:
    rng = np.random.default_rng(3)
    src = rng.uniform(0, 500, (5, 2))
    angle, scale, t = 0.3, 1.7, np.array([12.0, -40.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ rot.T + t
    m = estimate_similarity(src, dst)
    np.testing.assert_allclose(m[:, :2], rot, atol=1e-12)
    np.testing.assert_allclose(m[:, 2], t, atol=1e-9)
    inv = invert_affine(m)
    np.testing.assert_allclose(dst @ inv[:, :2].T + inv[:, 2], src, atol=1e-9)
    with pytest.raises(ValueError):
        estimate_similarity(np.zeros((5, 2)), dst)


def test_least_squares_similarity_matches_opencv_on_noisy_landmarks() -> None:
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(5)
    template = arcface_128_v2() * 512
    for _ in range(20):
        five = TARGET_FIVE * rng.uniform(0.5, 4) + rng.uniform(-200, 800, 2) + rng.normal(0, 2, (5, 2))
        ours = estimate_matrix(five, 512, use_cv2=False)
        theirs = estimate_matrix(five, 512, use_cv2=True)
        # The crop corners land within a thousandth of a pixel of OpenCV's.
        corners = np.array([[0, 0], [512, 0], [512, 512], [0, 512]], float)
        a = corners @ invert_affine(ours)[:, :2].T + invert_affine(ours)[:, 2]
        b = corners @ cv2.invertAffineTransform(theirs)[:, :2].T + cv2.invertAffineTransform(theirs)[:, 2]
        assert np.abs(a - b).max() < 1e-3
        np.testing.assert_allclose(invert_affine(theirs), cv2.invertAffineTransform(theirs), atol=1e-9)
    assert template.shape == (5, 2)


def test_gaussian_blur_matches_opencv() -> None:
    cv2 = pytest.importorskip("cv2")
    target, _ = load_faces()
    ours = gaussian_blur(target, 6.0)
    theirs = cv2.GaussianBlur(target, (0, 0), 6.0, borderType=cv2.BORDER_REFLECT_101)
    assert np.abs(np.rint(ours) - theirs).max() <= 1


def test_png_writer_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    write_png(tmp_path / "c.png", img)
    np.testing.assert_array_equal(read_png(tmp_path / "c.png"), img)
    grey = rng.integers(0, 256, (9, 4), dtype=np.uint8)
    write_png(tmp_path / "g.png", grey)
    np.testing.assert_array_equal(read_png(tmp_path / "g.png"), grey)
    with pytest.raises(ValueError):
        write_png(tmp_path / "x.png", img.astype(np.float32))
    try:
        import cv2
    except ImportError:
        return
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "c.png"), cv2.IMREAD_COLOR), img)  # an independent decoder


def test_timing_table_without_the_baseline() -> None:
    calls = [{"align": 1.0, "warp": 2.0}] * 3
    summary = timing_summary({"ffaccel-cpu": calls}, {"ffaccel-cpu": "ffaccel, CPU"}, 0.1,
                             skipped={"FaceFusion-style (numpy + cv2)": "it needs OpenCV"})
    table = format_timing_table(summary)
    assert "speed-up" not in table and "×" not in table
    assert table.splitlines()[-1] == "FaceFusion-style (numpy + cv2): skipped: it needs OpenCV"
    assert summary["paths"]["ffaccel-cpu"]["speedup"] == {}


def test_html_report_without_a_plot_needs_no_matplotlib(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hide(monkeypatch, "matplotlib")
    from ffaccel.quality.monitor import QualityMonitor
    from ffaccel.quality.report import write_html

    monitor = QualityMonitor(crop=None)
    rng = np.random.default_rng(1)
    for _ in range(5):
        monitor.update(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    write_html(monitor, tmp_path / "r.html", {"output": "x"}, plot=False)
    text = (tmp_path / "r.html").read_text()
    assert text.startswith("<!DOCTYPE html>") and "<img" not in text and "No plot here" in text
    with pytest.raises(ModuleNotFoundError, match="matplotlib"):
        write_html(monitor, tmp_path / "p.html")  # the default still asks for the plot


# ------------------------------------------------------------------ the whole demo, packages hidden


def run_hidden(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], out: Path,
               hidden: tuple[str, ...], *extra: str) -> str:
    hide(monkeypatch, *hidden)
    status = main(["demo", "--frames", str(FRAMES), "--resolution", f"{WIDTH}x{HEIGHT}", "--crop-size", str(CROP),
                   "--device", "cpu", "--output", str(out), "--no-progress", *extra])
    stdout = capsys.readouterr().out
    assert status == 0, stdout
    return stdout


def test_numpy_only_run_writes_the_core_artefacts(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "bare"
    stdout = run_hidden(monkeypatch, capsys, out, ("cv2", "matplotlib", "skimage"))
    assert sorted(missing_optional()) == ["cv2", "matplotlib"]
    # One line each, saying what the extra adds.
    assert stdout.count(f"note: {NOTE_CV2}\n") == 1 and stdout.count(f"note: {NOTE_MPL}\n") == 1
    assert stdout.count("note:") == 2
    assert 'pip install "ffaccel[opencv]"' in NOTE_CV2 and 'pip install "ffaccel[demo]"' in NOTE_MPL
    # The timing table: ffaccel's CPU path only, the baseline named as skipped.
    assert "| **total per face**" in stdout and "FaceFusion-style (numpy + cv2): skipped:" in stdout
    t = json.loads((out / "timing.json").read_text())
    assert set(t["paths"]) == {"ffaccel-cpu"} and "FaceFusion-style (numpy + cv2)" in t["skipped"]
    assert t["paths"]["ffaccel-cpu"]["faces"] == 2 * FRAMES
    assert set(t["paths"]["ffaccel-cpu"]["steps"]) == {"align", "warp", "swap", "mask", "paste"}
    assert t["machine"]["opencv"] is None
    md = (out / "timing.md").read_text()
    assert "skipped" in md and "OpenCV not installed" in md
    # Quality against ground truth.
    q = json.loads((out / "quality.json").read_text())
    assert q["stabilisation"]["reduced_jitter"] is True
    assert q["paths_agree_with_facefusion"] is None and "plots" in q["skipped"]
    for variant in ("raw", "stabilised"):
        report = json.loads((out / f"quality_{variant}.json").read_text())
        assert report["schema"] == "ffaccel.quality/2" and report["summary"]["frames"] == FRAMES
        html = (out / f"quality_{variant}.html").read_text()
        assert "<img" not in html and "No plot here" in html
    # No plots, no videos; PNG stills of the first, middle and last frames instead.
    names = {p.name for p in out.iterdir()}
    assert not {n for n in names if n.endswith(".mp4")}
    assert "landmarks.png" not in names and "quality_raw.png" not in names
    for kind in ("swapped", "comparison"):
        for still in ("first", "middle", "last"):
            img = read_png(out / f"{kind}_{still}.png")
            assert img.shape == (HEIGHT, WIDTH, 3) and img.std() > 10
    # Every file the command listed exists.
    listed = [line.strip() for line in stdout.split("artefacts in", 1)[1].splitlines()[1:] if line.strip()]
    assert set(listed) == names


def test_numpy_only_stills_show_the_swap(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    out = tmp_path / "bare"
    run_hidden(monkeypatch, capsys, out, ("cv2", "matplotlib"))
    tracks = np.load(out / "landmarks.npz")
    last = read_png(out / "swapped_last.png").astype(np.float32)
    # The stabilised swap differs from the clip where the face is, not far away from it.
    from ffaccel.demo.clip import ClipSpec, SyntheticClip

    clip = SyntheticClip(ClipSpec(frames=FRAMES, width=WIDTH, height=HEIGHT))
    frame = clip.frame(FRAMES - 1).astype(np.float32)
    diff = np.abs(last - frame).sum(axis=2)
    x0, y0, x1, y1 = clip.face_box(FRAMES - 1)
    w, h = x1 - x0, y1 - y0
    assert diff[y0:y1, x0:x1].mean() > 5
    outside = np.ones_like(diff, bool)
    cx, cy = tracks["truth5"][FRAMES - 1].mean(axis=0)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    outside &= np.hypot(xx - cx, yy - cy) > 1.5 * max(w, h)
    assert diff[outside].max() == 0


def test_no_video_writes_no_stills(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                   tmp_path: Path) -> None:
    out = tmp_path / "bare"
    run_hidden(monkeypatch, capsys, out, ("cv2",), "--no-video")
    names = {p.name for p in out.iterdir()}
    assert not {n for n in names if n.endswith(".png") and n.startswith(("swapped", "comparison"))}


def test_without_matplotlib_only(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                 tmp_path: Path) -> None:
    pytest.importorskip("cv2")
    out = tmp_path / "nompl"
    stdout = run_hidden(monkeypatch, capsys, out, ("matplotlib",))
    assert stdout.count("note:") == 1 and f"note: {NOTE_MPL}" in stdout
    names = {p.name for p in out.iterdir()}
    assert {"swapped.mp4", "comparison.mp4", "quality_raw.html"} <= names and "landmarks.png" not in names
    t = json.loads((out / "timing.json").read_text())
    assert set(t["paths"]) == {"facefusion", "ffaccel-cpu"} and t["skipped"] == {}


def test_without_opencv_only(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                             tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "nocv"
    stdout = run_hidden(monkeypatch, capsys, out, ("cv2",))
    assert stdout.count("note:") == 1 and f"note: {NOTE_CV2}" in stdout
    names = {p.name for p in out.iterdir()}
    assert {"landmarks.png", "quality_raw.png", "swapped_middle.png"} <= names
    assert not {n for n in names if n.endswith(".mp4")}
