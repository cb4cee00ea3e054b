"""Clips rendered from real photographs moving along known similarity trajectories.

Photos (all real, all offline, all RGB):
- ``astronaut``: ``skimage.data.astronaut()`` (Eileen Collins, NASA, public domain), or the
  crop of it that ffaccel ships in ``ffaccel/demo/faces.npz`` when scikit-image is absent;
- ``hopper``: matplotlib's sample ``grace_hopper.jpg`` (US Navy, public domain), or the
  shipped crop of it;
- ``camera``: ``skimage.data.camera()`` (the "cameraman", grey, a 3/4 view with a small
  face, about 55 px wide in the photo): used for faces up to 240 px only.

A frame is the photo under one similarity ``x_frame = c + s R(theta) (x_photo - f0)``, f0 the
photo's face centre (mean of its 5 reference points), with the photo's edge pixels
replicated past its borders (a flat scene filmed by a moving camera, as in
``ffaccel.demo.clip``; a mirrored border would put copies of the face in the frame). Rendering:
the photo is first reduced with area averaging to the nearest level of a half-octave
pyramid at or above the frame scale, then warped with bilinear interpolation (so a
downscale never aliases by more than a factor 1.41), then 8-bit rounding plus Gaussian
sensor noise of ``SENSOR_SIGMA`` grey levels (white in space and time: each frame reads a
random offset into a per-clip bank of noise). Faces above the photo's own size are
upsampled (a soft, out-of-focus look; the photos are 512-600 px).

Only the window the detector looks at is rendered (the region around the previous
detection, or the whole frame when it searches): the pixels are the ones the full frame
would have there, at a fraction of the cost at 4K.

Truth: the photo's 5 reference points are located once by the detector itself (mean of
24 detections of the still photo rendered at a 300 px face with random sub-pixel offsets,
small scales and rolls, each mapped back to the photo), then mapped by the known
similarity of every frame. Face width := 2 x inter-ocular distance (the distance between
the two eye points), which is close to MTCNN's box width (2.07x on the astronaut).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RES = {"720p": (1280, 720), "1080p": (1920, 1080), "4k": (3840, 2160)}
SCENARIOS = ("still", "slow_pan", "shaky", "nod", "turn", "zoom", "cut", "occlusion", "nod_blur", "turn_blur")
#: scenarios rendered with motion blur, each moving as the scenario its name ends with
#: "_blur" after: each frame averages BLUR_SAMPLES renders spread over the shutter's open
#: time, SHUTTER of the frame interval centred on the frame's time (half: film's 180-degree
#: rule; at the fast nod's peak 0.04 F of blur, at the fast turn's 0.05 F)
BLURRED = ("nod_blur", "turn_blur")
SHUTTER = 0.5
BLUR_SAMPLES = 8
COMBOS = (("720p", 80), ("720p", 240), ("1080p", 120), ("1080p", 360), ("4k", 240), ("4k", 600))
PHOTOS = ("astronaut", "hopper", "camera")
CAMERA_MAX_FACE = 240
FRAMES = 96
FPS = 30.0
SENSOR_SIGMA = 2.0
RENDER_VERSION = "r3"
_BANK = 2600  # side of the per-clip sensor-noise bank, px
_SLACK = 256
NOD = (20, 80)  # frames of the fast nod
OCCLUDED_PART = (40, 48)  # lower half of the face covered
OCCLUDED_FULL = (75, 79)  # whole face covered: the detector should miss these


def load_photo(name: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB photo."""
    if name == "camera":
        import skimage.data

        g = skimage.data.camera()
        return np.ascontiguousarray(np.dstack([g, g, g]))
    try:
        if name == "astronaut":
            import skimage.data

            return np.ascontiguousarray(skimage.data.astronaut()[:, :, :3])
        if name == "hopper":
            import matplotlib.cbook
            from PIL import Image

            with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")) as im:
                return np.ascontiguousarray(np.asarray(im.convert("RGB")))
    except ImportError:
        from ffaccel.demo.clip import FACES_PATH

        with np.load(FACES_PATH) as d:
            return np.ascontiguousarray(d["target" if name == "astronaut" else "source"])
    raise ValueError(f"photo: expected one of {PHOTOS}, got {name!r}")


@dataclass(frozen=True)
class ClipSpec:
    scenario: str
    res: str
    face_px: int
    photo: str
    frames: int = FRAMES
    seed: int = 0

    @property
    def size(self) -> tuple[int, int]:
        return RES[self.res]

    @property
    def tag(self) -> str:
        return f"{self.scenario}_{self.res}_{self.face_px}_{self.photo}"


def _raised(t: np.ndarray, start: float, length: float) -> np.ndarray:
    """0 before start, 1 after start + length, a raised-cosine ramp in between."""
    u = np.clip((t - start) / length, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * u)


def motion(scenario: str) -> str:
    """The scenario whose motion ``scenario`` has: itself, or for a ``BLURRED`` one the
    sharp scenario its name ends "_blur" after."""
    return scenario.removesuffix("_blur") if scenario in BLURRED else scenario


def trajectory(spec: ClipSpec, times: np.ndarray | None = None) -> tuple[np.ndarray, list[int]]:
    """(T, 4) [cx, cy, face_px, roll_rad] per frame, and the cut frames.

    Motion is in face widths F so that every scale sees the same normalised clip: the fast
    nod peaks at 0.08 F/frame and the fast turn at 0.10 F/frame (20 and 25 px/frame for a
    250 px face at 1080p). ``nod_blur`` moves as ``nod`` does, ``turn_blur`` as ``turn``.
    ``times`` (frames, fractional allowed; default 0 .. T-1): where to sample it instead of
    the frames, for the motion blur's sub-frame renders (not ``cut``, whose motion jumps).
    """
    rng = np.random.default_rng(spec.seed + 1000 * SCENARIOS.index(spec.scenario))
    w, h = spec.size
    f = float(spec.face_px)
    frames = np.arange(spec.frames, dtype=float)
    t = frames if times is None else np.asarray(times, dtype=float)
    sc = motion(spec.scenario)
    if times is not None and sc == "cut":
        raise ValueError("times: the cut scenario takes no sub-frame times (its motion jumps)")
    traj = np.tile([0.5 * w - 0.1 * f, 0.5 * h, f, np.radians(2.0)], (len(t), 1))
    cuts: list[int] = []
    if sc == "slow_pan" or sc == "occlusion":
        traj[:, 0] += 0.005 * f * t
        traj[:, 1] += 0.002 * f * t
    elif sc == "shaky":
        ph = rng.uniform(0, 2 * np.pi, 4)
        om = 2 * np.pi * t / FPS
        traj[:, 0] += f * (0.04 * np.sin(1.3 * om + ph[0]) + 0.025 * np.sin(2.7 * om + ph[1]))
        traj[:, 1] += f * 0.03 * np.sin(1.1 * om + ph[2])
        traj[:, 3] += np.radians(1.5) * np.sin(0.8 * om + ph[3])
    elif sc == "nod":
        a, b = NOD

        def nod_wave(at: np.ndarray) -> np.ndarray:
            tau = np.clip(at - a, 0, b - a)
            return np.sin(2 * np.pi * 1.5 * tau / FPS) * np.sin(np.pi * tau / (b - a)) ** 2

        wave = nod_wave(t)
        speed = np.abs(np.gradient(nod_wave(frames))).max()  # per frame, on the frames' grid
        traj[:, 1] += 0.08 * f * wave / speed
        traj[:, 3] += np.radians(3.0) * wave
        traj[:, 2] *= 1.0 + 0.03 * wave
    elif sc == "turn":
        ramp = _raised(t, 30, 30)  # speed peaks at pi/2 * 1.5 F / 30 = 0.0785 F ... scaled below
        traj[:, 0] += -0.6 * f + ramp * (0.1 * f * 30 * 2 / np.pi)
        traj[:, 3] += np.radians(12.0) * ramp
        traj[:, 2] *= 1.0 - 0.08 * ramp
    elif sc == "zoom":
        traj[:, 2] *= 1.0 + 0.5 * _raised(t, 20, 60)
    elif sc == "cut":
        c = spec.frames // 2
        traj[:, 0] += 0.004 * f * t
        traj[c:, 0] += 0.22 * w
        traj[c:, 1] -= 0.12 * h
        traj[c:, 2] *= 0.8
        traj[c:, 3] -= np.radians(8.0)
        cuts = [c]
    elif sc != "still":
        raise ValueError(f"scenario: expected one of {SCENARIOS}, got {sc!r}")
    return traj, cuts


def exposure(spec: ClipSpec) -> np.ndarray | None:
    """(T, BLUR_SAMPLES, 4) trajectory rows at the sub-frame times each frame of a
    ``BLURRED`` scenario averages (evenly spread over the open shutter, centred on the
    frame's time, which the truth keeps); None for the other scenarios."""
    if spec.scenario not in BLURRED:
        return None
    offsets = (np.arange(BLUR_SAMPLES) + 0.5) / BLUR_SAMPLES * SHUTTER - SHUTTER / 2
    times = (np.arange(spec.frames, dtype=float)[:, None] + offsets[None, :]).ravel()
    rows, _ = trajectory(spec, times)
    return rows.reshape(spec.frames, BLUR_SAMPLES, 4)


def similarity(traj_row: np.ndarray, ref5: np.ndarray) -> np.ndarray:
    """(2, 3) photo -> frame matrix of one trajectory row, for a photo with points ``ref5``."""
    cx, cy, face, roll = traj_row
    iod = np.linalg.norm(ref5[1] - ref5[0])
    s = face / (2.0 * iod)
    c, sn = s * np.cos(roll), s * np.sin(roll)
    f0 = ref5.mean(axis=0)
    lin = np.array([[c, -sn], [sn, c]])
    return np.hstack([lin, (np.array([cx, cy]) - lin @ f0)[:, None]])


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


class Renderer:
    """Renders windows of the frames of one photo (half-octave area pyramid + bilinear warp)."""

    def __init__(self, photo: np.ndarray, seed: int = 0) -> None:
        import cv2

        self.levels = [(1.0, photo)]
        s = 1.0
        while min(photo.shape[:2]) * s > 48:
            s /= np.sqrt(2.0)
            size = (max(1, round(photo.shape[1] * s)), max(1, round(photo.shape[0] * s)))
            self.levels.append((size[0] / photo.shape[1], cv2.resize(photo, size, interpolation=cv2.INTER_AREA)))
        self._bank: np.ndarray | None = None
        self.rng = np.random.default_rng(seed)

    def _noise(self, hh: int, ww: int) -> np.ndarray:
        """Sensor noise for a window: a random offset into a per-clip bank of Gaussian noise
        (a fresh draw when the window is larger than the bank, i.e. a whole-frame search)."""
        import cv2

        if hh > _BANK - _SLACK or ww > _BANK - _SLACK:
            noise = np.empty((hh, ww, 3), np.int16)
            cv2.randn(noise, 0.0, SENSOR_SIGMA)
            return noise
        if self._bank is None:
            self._bank = np.empty((_BANK, _BANK, 3), np.int16)
            cv2.randn(self._bank, 0.0, SENSOR_SIGMA)
        oy, ox = self.rng.integers(0, _SLACK, 2)
        return self._bank[oy : oy + hh, ox : ox + ww]

    def _warp(self, m: np.ndarray, window: tuple[int, int, int, int]) -> np.ndarray:
        import cv2

        scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
        lvl_s, img = self.levels[0]
        for ls, li in self.levels:
            if ls >= scale:
                lvl_s, img = ls, li
        x0, y0, ww, hh = window
        mm = m.copy()
        mm[:, :2] = m[:, :2] / lvl_s
        mm[:, 2] -= (x0, y0)
        return cv2.warpAffine(img, mm, (ww, hh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def render(self, m: np.ndarray, window: tuple[int, int, int, int], occluders=(),
               shutter: list[np.ndarray] | None = None) -> np.ndarray:
        """Pixels of frame window (x0, y0, w, h) of the photo under ``m`` (2x3), RGB uint8.
        With ``shutter`` (the 2x3 matrices of the open shutter's sub-frame times), the mean
        of their renders instead: motion blur, before the sensor noise."""
        import cv2

        x0, y0, ww, hh = window
        if shutter:
            acc = np.zeros((hh, ww, 3), np.float32)
            for ms in shutter:
                acc += self._warp(ms, window)
            out = np.clip(np.rint(acc / len(shutter)), 0, 255).astype(np.uint8)
        else:
            out = self._warp(m, window)
        for ox0, oy0, ox1, oy1, colour in occluders:
            a, b = int(round(ox0 - x0)), int(round(oy0 - y0))
            c, d = int(round(ox1 - x0)), int(round(oy1 - y0))
            out[max(b, 0) : max(d, 0), max(a, 0) : max(c, 0)] = colour
        return cv2.add(out, self._noise(hh, ww), dtype=cv2.CV_8U)  # saturating


def occluders(spec: ClipSpec, frame: int, truth5: np.ndarray) -> list:
    """Rectangles (x0, y0, x1, y1, rgb) covering the face in the occlusion scenario."""
    if spec.scenario != "occlusion":
        return []
    f = spec.face_px
    cx, cy = truth5.mean(axis=0)
    if OCCLUDED_PART[0] <= frame < OCCLUDED_PART[1]:  # a hand over the mouth and the nose
        return [(cx - 0.8 * f, cy - 0.05 * f, cx + 0.8 * f, cy + 0.9 * f, (92, 78, 70))]
    if OCCLUDED_FULL[0] <= frame < OCCLUDED_FULL[1]:  # something passes in front of the face
        return [(cx - 1.2 * f, cy - 1.4 * f, cx + 1.2 * f, cy + 1.4 * f, (60, 64, 70))]
    return []
