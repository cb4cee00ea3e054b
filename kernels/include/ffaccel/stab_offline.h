// stab_offline: stabilize_track's offline mode over a whole track in one call
// (src/ffaccel/stability/stabilize.py), chaining the offline kernels: the cut rule
// (stab_cuts) splits the track into shots, and every shot whose frames are all measured is
// smoothed by the one-shot pipeline:
//
//   stab_rigid (rigid / residual channels) -> stab_outliers (dropped frames filled) ->
//   stab_noise_variance (of the kept frames) -> the padded period (odd reflection about the
//   end frames, then a straight-line filler back to the start; stability/_bank.py builds
//   the same) -> stab_bank -> stab_points.
//
// A shot that needs the general path (a missed frame, fewer than 3 frames or no more than
// `pad`, a degenerate frame) is left untouched in `out` and marked, for the Python side to
// smooth (or to raise the named error). Scratch is allocated once per call, for the longest
// shot.
#pragma once

#include <cstdint>

#include "ffaccel/stab_rigid.h"

namespace ffaccel {

// The level bank's fixed inputs (stability/_bank.py's constants, stabilize.py's limits).
struct StabOfflineBank {
    const int* ends = nullptr;      // (J,) frames of the end lines
    const double* coef = nullptr;   // (J, order) recursion coefficients
    const int* warm = nullptr;      // (J,) warm-up samples
    const double* norms = nullptr;  // (E, J): row e = the levels' noise gains on a circle of 2^e samples
    const int* low = nullptr;       // (C,) smoothest level per channel, non-decreasing
    const double* floor = nullptr;  // (C,) noise-variance floors
    int norm_rows = 0, levels = 0, order = 0, pad = 0;
    double outlier = 5.0, mad_to_var = 1.0, gamma = 1.5;
    int erode = 3, average = 5;
};

struct StabOfflineTrack {
    const double* z = nullptr;  // (T, N, 2) points; a row is all NaN (missed) or finite
    int t_len = 0, points = 0;
    bool detect = true;               // detect the cuts (thresholds below) or read them from flags
    double move = 1.5, zoom = 1.5, turn = 0.6, shape = 0.35;
    std::uint8_t* flags = nullptr;    // (T,) in/out: bit 0 = a shot starts at t (t > 0; written when detect),
                                      // bit 1 (out) = the shot starting at t was left to the caller
    double* out = nullptr;            // (T, N, 2) out: the shots done
};

// Exponent e of the period 2^e of a shot of t_len frames: the least power of two
// >= t_len + 2 pad + 16 (stability/_bank.py padded_length).
int stab_offline_period_exponent(int t_len, int pad);

// Scratch of stab_offline_shot for shots of up to max_len frames of `points` points and
// periods of up to max_period samples.
class StabOfflineWork {
public:
    StabOfflineWork(int max_len, int points, const StabOfflineBank& b, int max_period);
    ~StabOfflineWork();
    StabOfflineWork(const StabOfflineWork&) = delete;
    StabOfflineWork& operator=(const StabOfflineWork&) = delete;
    struct Impl;
    Impl* impl;
};

// One shot, every frame measured, t_len > pad and >= 3, smoothed over a period of n >=
// t_len + 2 pad samples whose noise gains are norm (J,): true when out (t_len, N, 2) was
// written; false (nothing written) for a degenerate frame (*status), or for a glitch to drop
// unless `drops` (then the dropped frames are filled as stability/stabilize.py's
// _offline_segment fills them, and left out of the noise level).
bool stab_offline_shot(const double* z, int t_len, int points, const StabOfflineBank& b, int n, const double* norm,
                       StabOfflineWork& work, double* out, StabRigidStatus* status, bool drops);

namespace cpu {
// Returns the number of shots left to the caller (bit 1 of their first frame's flag).
int stab_offline_track(const StabOfflineTrack& p, const StabOfflineBank& b);
}  // namespace cpu

}  // namespace ffaccel
