// stab_rigid: the rigid / residual split of stabilize_track's offline mode
// (src/ffaccel/stability/_rigid.py: reference_shape, then to_channels).
//
// Frames z (K, N) complex (x + iy, pixels, all finite):
//
//   reference shape m: the frames aligned (least-squares similarity) onto the first
//     frame's centred, unit-RMS shape, averaged, centred and scaled to RMS radius 1;
//     size = mean over frames of each frame's RMS radius about its centroid (px);
//   channels (K, 4 + 2N): c.x / size, c.y / size, log(|a| / size), theta (unwrapped like
//     numpy.unwrap), then Re w_0, Im w_0, ... with z_i = c + a (m_i + w_i), c the centroid
//     and a = sum(conj(m) (z - c)) / N.
#pragma once

#include <cstdint>

namespace ffaccel {

enum class StabRigidStatus : int { ok = 0, no_size = 1, no_similarity = 2 };

struct StabRigidParams {
    const double* z = nullptr;   // (K, N, 2) points, x then y
    double* m = nullptr;         // (N, 2) out: reference shape
    double* channels = nullptr;  // (K, 4 + 2N) out
    int frames = 0, points = 0;
};

// The way back: channels (T, 4 + 2N) -> points (T, N, 2), z_i = c + a (m_i + w_i) with
// c = (ch0 + i ch1) size and a = exp(ch2 + i ch3) size.
void stab_points(const double* channels, const double* m, double size, int frames, int points, double* out);

namespace cpu {
// Returns the status and writes size (px) on success.
StabRigidStatus stab_rigid(const StabRigidParams& p, double* size);
}  // namespace cpu

}  // namespace ffaccel
