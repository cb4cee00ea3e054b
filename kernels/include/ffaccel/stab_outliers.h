// stab_outliers: the offline detector-glitch test of stabilize_track
// (src/ffaccel/stability/stabilize.py, _outliers).
//
// For (T, C) channels y at frame times at (T,), a frame is flagged when, in one channel,
// both of these exceed `outlier` robust standard deviations (1.4826 x the median over the
// frames of that test's values in that channel, taken once, on the first pass):
//
//   dq: |y - p| / sqrt(1 + sum w^2), p the least-squares parabola in time through the
//       frame's four nearest other frames (two on either side away from the ends; weights
//       w from the 3x3 normal equations), its scale floored at 1e-9 (1 + max |y|);
//   dm: |y - median of the 5 frames around it| (the first / last 5 at the ends), its scale
//       floored at half dq's.
//
// At the first and last kept frame dq is replaced by de: |y - the least-squares straight line
// through the next (previous) four kept frames|, its scale 1.4826 x the median of that
// one-sided residual at every frame of the track from either side (2 (T - 4) values, made
// only where an end frame's dm fires; compared by a count, not a median), floored at dq's.
// The parabola, extrapolated there, amplifies the noise 3x; the line's own scale holds the
// track's curvature (a shake) and the correlation of its noise.
//
// Inside the shot dq's scale grows with the head's speed, x sqrt(1 + (v / speed_v0)^2), v the
// median over the kept frames within speed_reach of the frame of the translation speed
// (channels 0 and 1 per frame time; central differences, one-sided at the ends; the upper
// median of an even count): MTCNN's noise grows with motion blur, and at the turn of a
// blurred fast nod a clean detection between biased neighbours read 7 stds of a scale
// measured mostly at rest (real-detector benchmark, nod_blur).
//
// Flagged frames are dropped and the tests repeated on the rest (3 passes at most, fewer
// than 5 frames left stops); if fewer than max(5, T / 2) frames stay, none is flagged.
// Of a run of flagged frames that reaches a shot end only the end frame stays flagged; where
// that gave frames back, one more pass tests the frames kept then (its flags stand only if
// max(5, T / 2) frames stay) and the run rule applies again: a glitch next to the end pulls
// its neighbours' tests into such a run, and would go back with them.
#pragma once

#include <cstdint>

namespace ffaccel {

struct StabOutlierParams {
    const double* y = nullptr;   // (T, C)
    const double* at = nullptr;  // (T,) frame times, increasing
    std::uint8_t* bad = nullptr; // (T,) out: 1 = glitch
    int t_len = 0, channels = 0;
    double outlier = 5.0;
    int passes = 3;
    // An end frame's line test must be confirmed by the one-sided parabola's, at this many of
    // its own robust stds (stability/stabilize.py's _outliers says why)
    double end_curve = 2.0;
    // The interior parabola test's speed scaling (see above); channels 0 and 1 are the
    // translation in reference-shape sizes (stab_rigid), whose fast nod peaks near 0.26
    double speed_v0 = 0.13;
    int speed_reach = 3;
};

namespace cpu {
void stab_outliers(const StabOutlierParams& p);
}  // namespace cpu

}  // namespace ffaccel
