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
// Flagged frames are dropped and the tests repeated on the rest (3 passes at most, fewer
// than 5 frames left stops); if fewer than max(5, T / 2) frames stay, none is flagged.
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
};

namespace cpu {
void stab_outliers(const StabOutlierParams& p);
}  // namespace cpu

}  // namespace ffaccel
