// stab_cuts: the scene-cut rule of stabilize_track's offline mode over a whole track
// (src/ffaccel/stability/_cuts.py, cut_flags; the constants are its MOVE, ZOOM, TURN, SHAPE).
//
// Over the measured frames (valid[t] != 0) of points z (T, N, 2), a frame starts a new shot
// when, against the previous measured frame p (and the one before, for a velocity), its
// centroid is more than MOVE RMS radii (p's, times sqrt(gap)) off the constant-velocity
// prediction, or its RMS radius changed by more than a factor ZOOM, or its normalised
// shape turned by more than TURN radians, or differs by more than SHAPE (RMS). A frame
// right after a flagged one is judged again without the velocity term. Frames whose radius
// or the previous one's is 0 never start a shot.
#pragma once

#include <cstdint>

namespace ffaccel {

struct StabCutParams {
    const double* z = nullptr;            // (T, N, 2)
    const std::uint8_t* valid = nullptr;  // (T,)
    std::uint8_t* flags = nullptr;        // (T,) out: 1 = starts a new shot
    int t_len = 0, points = 0;
    double move = 1.5, zoom = 1.5, turn = 0.6, shape = 0.35;
};

namespace cpu {
void stab_cuts(const StabCutParams& p);
}  // namespace cpu

}  // namespace ffaccel
