// stab_end: the offline mode's end-of-shot step (src/ffaccel/stability/_ends.py,
// straighten_end), in two halves around the one product numpy keeps (the least-squares
// slope, t @ (ch - ch[0]), whose summation order is the BLAS library's):
//
//   stab_end_prepare: finds the shot's last finite smoothed frame `end` (out[t, 0, 0] not
//     NaN) and start = end - frames; nothing (returns -1) when start < first, a NaN row lies
//     in start..end, or fewer than 5 of the last 2 * noise_frames detections are finite.
//     Else splits (stab_rigid, one reference shape) the last noise_frames finite detections,
//     then the smoothed rows start..end; writes m (N, 2), ch (frames + 1, C) (the smoothed
//     rows' channels), cen = ch - ch[0], sd (C,) = sqrt(stab_noise_variance of the
//     detections' channels, all measured); returns start and the size. All of it in one
//     work array (2 frames + 4, C): cen (frames + 1 rows, first: the rows numpy's product
//     reads), ch (frames + 1 rows), sd (one row), m (one row, its first 2N values).
//   stab_end_finish: slope = num / tt (num = t @ cen, numpy's), line = ch[0] + t * slope, dev = the median over k = 1..frames of
//     |ch[k] - line[k]|, w = clip(2 - dev / (kappa * sd), 0, 1); all w == 0: writes nothing
//     and returns false; else the rows 1..frames of ch + w (line - ch), back to points (T =
//     frames) in out.
// Every operation is numpy's, one rounding each, in the order _ends.py wrote it.
#pragma once

#include <cstdint>

#include "ffaccel/stab_rigid.h"

namespace ffaccel {

struct StabEndPrepare {
    const double* out = nullptr;  // (T, N, 2) smoothed points
    const double* det = nullptr;  // (T, N, 2) detections
    int t_len = 0, points = 0, first = 0, stop = 0, frames = 0, noise_frames = 0;
    const double* floor = nullptr;  // (C,)
    double mad_to_var = 0.0;
    double* work = nullptr;  // (2 frames + 4, C) out: cen, ch, sd, m
};

// Returns start (>= first) or -1 (nothing to do); on start >= 0 writes *size and *status
// (a failed split: nothing else is valid).
int stab_end_prepare(const StabEndPrepare& p, double* size, StabRigidStatus* status);

// work as stab_end_prepare wrote it, num (C,), tt, t (frames + 1,); out (frames, N, 2).
// Returns whether out was written.
bool stab_end_finish(const double* work, const double* num, double tt, const double* t, double kappa, double size,
                     int frames, int points, double* out);

}  // namespace ffaccel
