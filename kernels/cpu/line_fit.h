// The least-squares straight line's value at one time, as weights of its four points: the
// glitch test's end-frame prediction (stab_outliers.cpp) and the fill of a dropped end frame
// (stab_offline.cpp) make it the same way. Header-only, internal to kernels/cpu.
#pragma once

namespace ffaccel::cpu {
namespace {  // internal linkage: each CPU build keeps its own copy

// Weights w (4) of the least-squares straight line's value at offset 0 through points at
// offsets tau (4, one side of 0): w_k = 1/4 - mean(tau) (tau_k - mean(tau)) / sum (tau - mean)^2
// ((1, 1/2, 0, -1/2) for offsets 1..4). stability/stabilize.py's _line_at sums in this order.
inline void line_weights(const double* tau, double* w) {
    const double mt = (((tau[0] + tau[1]) + tau[2]) + tau[3]) * 0.25;
    double dev[4];
    for (int k = 0; k < 4; ++k) dev[k] = tau[k] - mt;
    const double sxx = ((dev[0] * dev[0] + dev[1] * dev[1]) + dev[2] * dev[2]) + dev[3] * dev[3];
    const double f = mt / sxx;
    for (int k = 0; k < 4; ++k) w[k] = 0.25 - f * dev[k];
}

}  // namespace
}  // namespace ffaccel::cpu
