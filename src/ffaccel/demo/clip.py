"""The demo's bundled default clip, generated at run time: no user files, no downloads.

Faces (shipped inside the package as ``ffaccel/demo/faces.npz``, read with numpy alone;
``python -m tools.make_faces``, in a checkout, rebuilds that file from the originals):

- target: scikit-image's ``astronaut`` photograph (Eileen Collins, NASA, public domain),
  ``skimage.data.astronaut()``, 512x512 RGB, cropped to :data:`TARGET_CROP`;
- source: matplotlib's sample ``grace_hopper.jpg`` (Grace Hopper, US Navy, public
  domain), ``matplotlib.cbook.get_sample_data("grace_hopper.jpg")``, 512 wide and 600
  high, cropped to :data:`SOURCE_CROP`.

The crops are cut, never rescaled, so the annotation below only shifts by their corner.

Landmarks. The 5 alignment points (image-left eye centre, image-right eye centre, nose
tip, left and right mouth corners) of each face were annotated by hand once, by eye on
enlarged views of the images with a pixel grid; they are the constants
``TARGET_FIVE`` and ``SOURCE_FIVE`` (estimated accuracy about 2 px). The 68-point
(iBUG 300-W order) layout is an approximation derived from them, not an annotation:
ffaccel's frontal mean-face template (``ffaccel.stability._face``) is fitted to the 5
points with a least-squares affine map, then each group is shifted by the residual of
its own alignment point (the eyes by their eye centre's residual, the nose base by the
nose tip's, the lips by the mouth corners' residuals interpolated along the mouth), so
that the 68 points reduce exactly to the annotated 5 (:func:`fit_68`). Jaw, brows and
lips are therefore where a generic face would have them, not traced on these faces.

Motion. The clip is a flat scene (the target photo, widened with a blurred mirror of
itself) filmed by a moving camera: every frame is one similarity transform of the
scene, composed of a camera pan and slow zoom, a head sway and tilt, and hand-held
shake (low-pass filtered noise). Head and background move together: a separate head
layer would need a matte the photo does not have. Ground-truth landmarks are the
annotated points mapped through the same transform, so they are exact by construction.

Detector noise (:class:`NoiseModel`): Gaussian noise of ``sigma_px`` on every point,
mostly one rigid shift per frame common to all points (as measured on MTCNN), plus,
on a fraction ``outlier_rate`` of frames, a mis-detection that shifts the whole face by ``outlier_px`` in a random direction. Pixel figures are for
1080p and scale with the frame height (a detector sees faces at a fixed resolution).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "TARGET_CROP",
    "SOURCE_CROP",
    "TARGET_FIVE_ORIGINAL",
    "SOURCE_FIVE_ORIGINAL",
    "TARGET_FIVE",
    "SOURCE_FIVE",
    "FACES_PATH",
    "NoiseModel",
    "ClipSpec",
    "SyntheticClip",
    "fit_68",
    "five_from_68",
    "load_faces",
    "gaussian_blur",
]

#: Where the shipped arrays were cut from the original photos: (top, left, height, width) in pixels.
TARGET_CROP = (0, 8, 320, 432)
SOURCE_CROP = (56, 120, 288, 288)

#: Hand-annotated 5 points of the original ``skimage.data.astronaut()`` (x, y in its 512x512 pixels).
TARGET_FIVE_ORIGINAL: np.ndarray = np.array(
    [[202.5, 102.0], [246.5, 103.5], [225.0, 127.0], [204.5, 142.0], [243.0, 141.5]], np.float64
)
#: Hand-annotated 5 points of the original matplotlib ``grace_hopper.jpg`` (512 wide, 600 high).
SOURCE_FIVE_ORIGINAL: np.ndarray = np.array(
    [[221.5, 190.0], [305.0, 186.5], [265.5, 238.5], [234.0, 276.0], [293.0, 275.0]], np.float64
)
#: The same points in the shipped target array (``TARGET_FIVE_ORIGINAL`` minus the crop's corner).
TARGET_FIVE: np.ndarray = TARGET_FIVE_ORIGINAL - np.array([TARGET_CROP[1], TARGET_CROP[0]], np.float64)
#: The same points in the shipped source array.
SOURCE_FIVE: np.ndarray = SOURCE_FIVE_ORIGINAL - np.array([SOURCE_CROP[1], SOURCE_CROP[0]], np.float64)
for _a in (TARGET_FIVE_ORIGINAL, SOURCE_FIVE_ORIGINAL, TARGET_FIVE, SOURCE_FIVE):
    _a.setflags(write=False)
del _a

#: The packaged faces: RGB uint8 arrays ``target`` and ``source`` (see ``tools/make_faces.py``).
FACES_PATH = Path(__file__).with_name("faces.npz")

_EYE_LEFT = list(range(36, 42))
_EYE_RIGHT = list(range(42, 48))
_NOSE_BASE = list(range(30, 36))
_LIPS = list(range(48, 68))


def load_faces() -> tuple[np.ndarray, np.ndarray]:
    """The target and source photographs as BGR uint8 arrays, read from the packaged ``faces.npz``.

    Needs numpy only.

    Returns:
        (target, source): the shipped crops, (320, 432, 3) and (288, 288, 3), BGR.
    """
    with np.load(FACES_PATH, allow_pickle=False) as data:
        target, source = data["target"], data["source"]
    if target.dtype != np.uint8 or source.dtype != np.uint8:
        raise ValueError(f"{FACES_PATH} holds {target.dtype}/{source.dtype} faces, expected uint8")
    return np.ascontiguousarray(target[:, :, ::-1]), np.ascontiguousarray(source[:, :, ::-1])


def five_from_68(landmarks68: np.ndarray) -> np.ndarray:
    """(..., 5, 2) alignment points from (..., 68, 2): eye centres, nose tip, mouth corners.

    The same reduction as FaceFusion's ``convert_face_landmark_68_to_5``.
    """
    lm = np.asarray(landmarks68, np.float64)
    return np.stack([lm[..., _EYE_LEFT, :].mean(axis=-2), lm[..., _EYE_RIGHT, :].mean(axis=-2),
                     lm[..., 30, :], lm[..., 48, :], lm[..., 54, :]], axis=-2)


def fit_68(five: np.ndarray) -> np.ndarray:
    """A plausible 68-point layout whose 5-point reduction is exactly ``five``.

    The frontal mean-face template of ``ffaccel.stability`` is mapped onto ``five`` by the
    least-squares affine transform of its own 5 points; then the eyes, the nose base and
    the lips are shifted by the residuals of their alignment points (the lips by the two
    mouth-corner residuals interpolated linearly along the mouth).

    Args:
        five: (5, 2) points, in :data:`TARGET_FIVE`'s order.

    Returns:
        (68, 2) float64 landmarks, iBUG 300-W order.
    """
    from ffaccel.stability._face import project_template

    five = np.asarray(five, np.float64)
    template = project_template()
    t5 = five_from_68(template)
    design = np.hstack([t5, np.ones((5, 1))])
    coeffs, *_ = np.linalg.lstsq(design, five, rcond=None)  # (3, 2): x' = [x y 1] @ coeffs
    pts = np.hstack([template, np.ones((68, 1))]) @ coeffs
    residual = five - five_from_68(pts)
    pts[_EYE_LEFT] += residual[0]
    pts[_EYE_RIGHT] += residual[1]
    pts[_NOSE_BASE] += residual[2]
    x_left, x_right = pts[48, 0], pts[54, 0]
    w = np.clip((pts[_LIPS, 0] - x_left) / (x_right - x_left), 0.0, 1.0)[:, None]
    pts[_LIPS] += (1.0 - w) * residual[3] + w * residual[4]
    return pts


@dataclass(frozen=True)
class NoiseModel:
    """Detector noise on landmarks, in pixels at 1080p (scaled by frame height / 1080).

    Real detectors' frame-to-frame noise is mostly a rigid shift of all points together
    (about 89 % of the noise energy for MTCNN's five points, measured in issue 13), so a
    share ``rigid_share`` of the variance is one offset per frame common to every point,
    the rest independent per point.

    Attributes:
        sigma_px: total std of the noise per point and coordinate.
        rigid_share: share of the noise variance common to all points of a frame, in [0, 1].
        outlier_rate: fraction of frames with a mis-detection.
        outlier_px: how far a mis-detection shifts the whole face.
    """

    sigma_px: float = 1.5
    rigid_share: float = 0.89
    outlier_rate: float = 0.03
    outlier_px: float = 6.0

    def apply(self, truth: np.ndarray, unit: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Noisy copy of a (T, N, 2) track and the (T,) bool mask of outlier frames."""
        sigma = self.sigma_px * unit
        common = rng.normal(0.0, sigma * np.sqrt(self.rigid_share), (truth.shape[0], 1, 2))
        noisy = truth + common + rng.normal(0.0, sigma * np.sqrt(1.0 - self.rigid_share), truth.shape)
        outliers: np.ndarray = np.asarray(rng.random(truth.shape[0]) < self.outlier_rate)
        angle = rng.uniform(0.0, 2.0 * np.pi, truth.shape[0])
        shift = self.outlier_px * unit * np.stack([np.cos(angle), np.sin(angle)], axis=1)
        noisy[outliers] += shift[outliers][:, None, :]
        return noisy, outliers


@dataclass(frozen=True)
class ClipSpec:
    """What to generate.

    Attributes:
        frames: number of frames.
        width, height: frame size in pixels.
        fps: frame rate of the videos and of the motion model.
        seed: seed of the shake and the detector noise (same seed, same clip).
        noise: the detector-noise model.
    """

    frames: int = 150
    width: int = 1920
    height: int = 1080
    fps: float = 30.0
    seed: int = 7
    noise: NoiseModel = field(default_factory=NoiseModel)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """(H, W, C) float32 Gaussian blur of ``image``, separable, 2 * ceil(3 sigma) + 1 taps, reflected border.

    Numpy only (the scene's blurred surround; OpenCV's ``GaussianBlur`` on uint8 uses the
    same tap count and border, and differs by its uint8 rounding).
    """
    radius = int(np.ceil(3.0 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps = (taps / taps.sum()).astype(np.float32)
    out = np.asarray(image, np.float32)
    for axis in (0, 1):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="reflect")
        n = out.shape[axis]
        acc = np.zeros_like(out)
        for k, w in enumerate(taps):
            acc += w * np.take(padded, np.arange(k, k + n), axis=axis)
        out = acc
    return out


def _smooth_noise(rng: np.random.Generator, count: int, sigma_frames: float) -> np.ndarray:
    """(count,) low-pass Gaussian noise of unit std (hand-held shake)."""
    pad = int(4 * sigma_frames) + 1
    white = rng.normal(0.0, 1.0, count + 2 * pad)
    k = np.exp(-0.5 * (np.arange(-pad, pad + 1) / sigma_frames) ** 2)
    smooth = np.convolve(white, k / k.sum(), mode="same")[pad:pad + count]
    return smooth / max(float(smooth.std()), 1e-9) if count > 1 else smooth


class SyntheticClip:
    """The generated clip: frames on demand, ground-truth and noisy landmarks up front.

    Attributes:
        spec: the :class:`ClipSpec`.
        target, source: the two photographs (BGR uint8).
        source_five: (5, 2) landmarks of the source face (:data:`SOURCE_FIVE`).
        matrices: (T, 2, 3) scene -> frame similarity of each frame.
        truth68, truth5: (T, 68, 2) and (T, 5, 2) ground-truth landmarks in the frames.
        noisy68, noisy5: the same with detector noise (the 5-point track is detected on
            its own, with its own noise, as a face detector's 5 points are).
        outlier_frames: (T,) bool, frames where the detector mis-fired.

    Frames are made one at a time by :meth:`frame` (a 1080p clip of 150 frames would
    need 0.9 GB held at once).
    """

    #: blurred mirror border added around the photo so that the camera never sees an edge
    PAD = (128, 256)  # (rows, columns)

    def __init__(self, spec: ClipSpec) -> None:
        self.spec = spec
        self.target, self.source = load_faces()
        self.source_five = np.array(SOURCE_FIVE)
        pr, pc = self.PAD
        sharp = np.pad(self.target, ((pr, pr), (pc, pc), (0, 0)), mode="reflect")  # OpenCV's BORDER_REFLECT_101
        blurred = gaussian_blur(sharp, 6.0)
        h, w = self.target.shape[:2]
        ramp_y = np.clip(1.0 - np.maximum(pr - np.arange(h + 2 * pr), np.arange(h + 2 * pr) - (h + pr - 1)) / 48.0, 0, 1)
        ramp_x = np.clip(1.0 - np.maximum(pc - np.arange(w + 2 * pc), np.arange(w + 2 * pc) - (w + pc - 1)) / 48.0, 0, 1)
        alpha = (ramp_y[:, None] * ramp_x[None, :])[..., None]
        self.scene = np.ascontiguousarray((alpha * sharp + (1.0 - alpha) * blurred + 0.5).astype(np.uint8))
        scene68 = fit_68(TARGET_FIVE) + np.array([pc, pr], np.float64)
        self.matrices = self._trajectory(five_from_68(scene68).mean(axis=0))
        self.truth68 = self._transform(scene68)
        self.truth5 = five_from_68(self.truth68)
        rng = np.random.default_rng(spec.seed + 1)
        unit = spec.height / 1080.0
        self.noisy68, out68 = spec.noise.apply(self.truth68, unit, rng)
        self.noisy5, out5 = spec.noise.apply(self.truth5, unit, rng)
        self.outlier_frames = out5

    @property
    def unit(self) -> float:
        """Pixels per 1080p pixel (frame height / 1080)."""
        return self.spec.height / 1080.0

    def _trajectory(self, centre: np.ndarray) -> np.ndarray:
        """(T, 2, 3) scene -> frame similarities: pan, zoom, sway, tilt and shake."""
        s = self.spec
        u = self.unit
        t = np.arange(s.frames) / s.fps
        rng = np.random.default_rng(s.seed)
        shake = np.stack([_smooth_noise(rng, s.frames, 4.0) for _ in range(3)])
        eye_distance = float(np.hypot(*(TARGET_FIVE[1] - TARGET_FIVE[0])))
        scale = (150.0 * u / eye_distance) * (1.0 + 0.15 * np.sin(np.pi * t / 6.0) ** 2)  # slow zoom in
        angle = np.radians(4.0 * np.sin(2 * np.pi * t / 3.7) + 0.3 * shake[2])  # head tilt + shake
        px = s.width / 2 - 120 * u + u * (180 * np.sin(2 * np.pi * t / 7.0 + 0.3) + 25 * np.sin(2 * np.pi * t / 1.9)
                                          + 2.5 * shake[0])
        py = s.height / 2 - 40 * u + u * (60 * np.sin(2 * np.pi * t / 5.3) + 12 * np.sin(2 * np.pi * t / 2.3 + 1.0)
                                          + 2.5 * shake[1])
        cos, sin = scale * np.cos(angle), scale * np.sin(angle)
        m = np.empty((s.frames, 2, 3))
        m[:, 0, 0], m[:, 0, 1] = cos, -sin
        m[:, 1, 0], m[:, 1, 1] = sin, cos
        m[:, 0, 2] = px - (cos * centre[0] - sin * centre[1])
        m[:, 1, 2] = py - (sin * centre[0] + cos * centre[1])
        return m

    def _transform(self, points: np.ndarray) -> np.ndarray:
        """(T, N, 2): ``points`` (N, 2) in scene pixels mapped into every frame."""
        return np.einsum("tij,nj->tni", self.matrices[:, :, :2], points) + self.matrices[:, None, :, 2]

    def __len__(self) -> int:
        return self.spec.frames

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as a new (height, width, 3) uint8 BGR array.

        Bilinear warp of the scene: ``cv2.warpAffine`` when OpenCV is installed (the
        faster of the two on a CPU), else ``ffaccel.warp_affine(compat="opencv5.0")``,
        OpenCV 5's bytes. They differ only where the camera would look past the
        scene's border (reflected by OpenCV, replicated by ffaccel).
        """
        s = self.spec
        try:
            import cv2
        except ImportError:
            import ffaccel

            return np.asarray(ffaccel.warp_affine(self.scene, self.matrices[index], (s.width, s.height),
                                                  compat="opencv5.0"))
        return cv2.warpAffine(self.scene, self.matrices[index], (s.width, s.height), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT_101)

    def face_box(self, index: int, margin: float = 0.35) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) box (x1, y1 exclusive) around the ground-truth face of frame ``index``, clipped to the frame."""
        pts = self.truth68[index]
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        pad = (hi - lo) * margin
        x1, y1 = np.maximum(np.floor(lo - pad), 0).astype(int)
        x2 = int(min(np.ceil(hi[0] + pad[0]), self.spec.width))
        y2 = int(min(np.ceil(hi[1] + pad[1]), self.spec.height))
        return int(x1), int(y1), max(x2, int(x1) + 1), max(y2, int(y1) + 1)
