// CPU loops for stab_rigid and stab_points (kernels/include/ffaccel/stab_rigid.h): one thread.
#include "ffaccel/stab_rigid.h"

#include <cmath>
#include <vector>

#include "cx.h"
#include "variant.h"

// Scalar complex arithmetic (cx.h), compiled twice like the other CPU loops (variant.h): the
// baseline build is size-optimised (-Os: no inlining of cx.h's products), the x86-64-v3 one
// at -O3. Contraction is off in both and the sums keep their order, so the bytes are the same.
namespace ffaccel {
namespace cpu {
namespace FFACCEL_CPU_VARIANT {
namespace {

using cd = Cx;

// numpy's float remainder (the sign of the divisor)
inline double py_mod(double a, double b) {
    double r = std::fmod(a, b);
    if (r != 0.0) {
        if ((b < 0) != (r < 0)) r += b;
    } else {
        r = std::copysign(0.0, b);
    }
    return r;
}

// Centre a shape and scale it to RMS radius 1; false when it has no size.
bool normalise(const cd* in, int n, cd* out) {
    cd mean;
    for (int i = 0; i < n; ++i) mean = mean + in[i];
    mean = mean / static_cast<double>(n);
    double ss = 0.0;
    for (int i = 0; i < n; ++i) {
        out[i] = in[i] - mean;
        ss += norm2(out[i]);
    }
    const double size = std::sqrt(ss / n);
    if (!(size > 0)) return false;
    for (int i = 0; i < n; ++i) out[i] = out[i] / size;
    return true;
}

}  // namespace

StabRigidStatus stab_rigid(const StabRigidParams& p, double* size_out) {
    const int K = p.frames, N = p.points;
    const double nd = static_cast<double>(N);
    std::vector<cd> z(static_cast<std::size_t>(K) * N), m0(N), m(N), acc(N);
    std::vector<cd> cen(K);
    for (int t = 0; t < K; ++t) {
        cd s;
        for (int i = 0; i < N; ++i) {
            const double* q = p.z + (static_cast<std::int64_t>(t) * N + i) * 2;
            z[static_cast<std::size_t>(t) * N + i] = cd{q[0], q[1]};
            s = s + cd{q[0], q[1]};
        }
        cen[t] = s / nd;
    }
    // reference shape: align every frame onto the first one's normalised shape, average
    std::vector<cd> centred0(N);
    for (int i = 0; i < N; ++i) centred0[i] = z[i];
    if (!normalise(centred0.data(), N, m0.data())) return StabRigidStatus::no_size;
    double size = 0.0;
    for (int t = 0; t < K; ++t) {
        const cd* zt = z.data() + static_cast<std::size_t>(t) * N;
        cd a;
        double ss = 0.0;
        for (int i = 0; i < N; ++i) {
            const cd c = zt[i] - cen[t];
            a = a + c * conj(m0[i]);
            ss += norm2(c);
        }
        a = a / nd;
        if (is_zero(a)) return StabRigidStatus::no_size;  // numpy: a NaN mean shape, which has no size
        const cd inv_a = inverse(a);  // a multiply per point, not a division
        for (int i = 0; i < N; ++i) acc[i] = acc[i] + (zt[i] - cen[t]) * inv_a;
        size += std::sqrt(ss / nd);
    }
    size /= static_cast<double>(K);
    for (int i = 0; i < N; ++i) acc[i] = acc[i] / static_cast<double>(K);
    if (!normalise(acc.data(), N, m.data())) return StabRigidStatus::no_size;
    for (int i = 0; i < N; ++i) {
        p.m[2 * i] = m[i].re;
        p.m[2 * i + 1] = m[i].im;
    }
    // channels
    const int C = 4 + 2 * N;
    double prev_angle = 0.0, correction = 0.0;
    const double pi = 3.14159265358979323846, two_pi = 2.0 * pi;
    for (int t = 0; t < K; ++t) {
        const cd* zt = z.data() + static_cast<std::size_t>(t) * N;
        cd a;
        for (int i = 0; i < N; ++i) a = a + (zt[i] - cen[t]) * conj(m[i]);
        a = a / nd;
        if (is_zero(a)) return StabRigidStatus::no_similarity;
        double* out = p.channels + static_cast<std::int64_t>(t) * C;
        out[0] = cen[t].re / size;
        out[1] = cen[t].im / size;
        out[2] = std::log(absc(a) / size);
        const double ang = std::atan2(a.im, a.re);
        if (t > 0) {  // numpy.unwrap
            const double dd = ang - prev_angle;
            double ddmod = py_mod(dd + pi, two_pi) - pi;
            if (ddmod == -pi && dd > 0) ddmod = pi;
            if (std::abs(dd) >= pi) correction += ddmod - dd;
        }
        prev_angle = ang;
        out[3] = ang + correction;
        const cd inv_a = inverse(a);
        for (int i = 0; i < N; ++i) {
            const cd w = (zt[i] - cen[t]) * inv_a - m[i];
            out[4 + 2 * i] = w.re;
            out[5 + 2 * i] = w.im;
        }
    }
    *size_out = size;
    return StabRigidStatus::ok;
}

void stab_points_rows(const double* channels, const double* m, double size, int frames, int points, double* out) {
    const int C = 4 + 2 * points;
    for (int t = 0; t < frames; ++t) {
        const double* ch = channels + static_cast<std::int64_t>(t) * C;
        const Cx c = Cx{ch[0], ch[1]} * size;
        const Cx a = expc(Cx{ch[2], ch[3]}) * size;
        double* o = out + static_cast<std::int64_t>(t) * points * 2;
        for (int i = 0; i < points; ++i) {
            const Cx z = c + a * (Cx{m[2 * i], m[2 * i + 1]} + Cx{ch[4 + 2 * i], ch[5 + 2 * i]});
            o[2 * i] = z.re;
            o[2 * i + 1] = z.im;
        }
    }
}

}  // namespace FFACCEL_CPU_VARIANT

FFACCEL_CPU_DISPATCH(StabRigidStatus, stab_rigid, (const StabRigidParams& p, double* size_out), (p, size_out))
FFACCEL_CPU_DISPATCH(void, stab_points_rows,
                     (const double* channels, const double* m, double size, int frames, int points, double* out),
                     (channels, m, size, frames, points, out))

}  // namespace cpu

#if defined(FFACCEL_CPU_BASE)
void stab_points(const double* channels, const double* m, double size, int frames, int points, double* out) {
    cpu::stab_points_rows(channels, m, size, frames, points, out);
}
#endif

}  // namespace ffaccel
