// CPU loops for stab_rigid and stab_points (kernels/include/ffaccel/stab_rigid.h): one thread.
#include "ffaccel/stab_rigid.h"

#include <cmath>
#include <complex>
#include <vector>

#include "variant.h"

// Scalar complex arithmetic, compiled once (baseline build only): the x86-64-v3 build of
// the same loops gave different last bits (complex products), and they cost little.
#if defined(FFACCEL_CPU_BASE)
namespace ffaccel {
namespace cpu {
namespace {

using cd = std::complex<double>;

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
    cd mean = 0.0;
    for (int i = 0; i < n; ++i) mean += in[i];
    mean /= static_cast<double>(n);
    double ss = 0.0;
    for (int i = 0; i < n; ++i) {
        out[i] = in[i] - mean;
        ss += std::norm(out[i]);
    }
    const double size = std::sqrt(ss / n);
    if (!(size > 0)) return false;
    for (int i = 0; i < n; ++i) out[i] /= size;
    return true;
}

}  // namespace

StabRigidStatus stab_rigid(const StabRigidParams& p, double* size_out) {
    const int K = p.frames, N = p.points;
    const double nd = static_cast<double>(N);
    std::vector<cd> z(static_cast<std::size_t>(K) * N), m0(N), m(N), acc(N, cd(0.0));
    std::vector<cd> cen(K);
    for (int t = 0; t < K; ++t) {
        cd s = 0.0;
        for (int i = 0; i < N; ++i) {
            const double* q = p.z + (static_cast<std::int64_t>(t) * N + i) * 2;
            z[static_cast<std::size_t>(t) * N + i] = cd(q[0], q[1]);
            s += cd(q[0], q[1]);
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
        cd a = 0.0;
        double ss = 0.0;
        for (int i = 0; i < N; ++i) {
            const cd c = zt[i] - cen[t];
            a += c * std::conj(m0[i]);
            ss += std::norm(c);
        }
        a /= nd;
        if (a == cd(0.0)) return StabRigidStatus::no_size;  // numpy: a NaN mean shape, which has no size
        const cd inv_a = std::conj(a) / std::norm(a);  // 1 / a (a multiply per point, not a division)
        for (int i = 0; i < N; ++i) acc[i] += (zt[i] - cen[t]) * inv_a;
        size += std::sqrt(ss / nd);
    }
    size /= static_cast<double>(K);
    for (int i = 0; i < N; ++i) acc[i] /= static_cast<double>(K);
    if (!normalise(acc.data(), N, m.data())) return StabRigidStatus::no_size;
    for (int i = 0; i < N; ++i) {
        p.m[2 * i] = m[i].real();
        p.m[2 * i + 1] = m[i].imag();
    }
    // channels
    const int C = 4 + 2 * N;
    double prev_angle = 0.0, correction = 0.0;
    const double pi = 3.14159265358979323846, two_pi = 2.0 * pi;
    for (int t = 0; t < K; ++t) {
        const cd* zt = z.data() + static_cast<std::size_t>(t) * N;
        cd a = 0.0;
        for (int i = 0; i < N; ++i) a += (zt[i] - cen[t]) * std::conj(m[i]);
        a /= nd;
        if (a == cd(0.0)) return StabRigidStatus::no_similarity;
        double* out = p.channels + static_cast<std::int64_t>(t) * C;
        out[0] = cen[t].real() / size;
        out[1] = cen[t].imag() / size;
        out[2] = std::log(std::abs(a) / size);
        const double ang = std::atan2(a.imag(), a.real());
        if (t > 0) {  // numpy.unwrap
            const double dd = ang - prev_angle;
            double ddmod = py_mod(dd + pi, two_pi) - pi;
            if (ddmod == -pi && dd > 0) ddmod = pi;
            if (std::abs(dd) >= pi) correction += ddmod - dd;
        }
        prev_angle = ang;
        out[3] = ang + correction;
        const cd inv_a = std::conj(a) / std::norm(a);
        for (int i = 0; i < N; ++i) {
            const cd w = (zt[i] - cen[t]) * inv_a - m[i];
            out[4 + 2 * i] = w.real();
            out[5 + 2 * i] = w.imag();
        }
    }
    *size_out = size;
    return StabRigidStatus::ok;
}

}  // namespace cpu

void stab_points(const double* channels, const double* m, double size, int frames, int points, double* out) {
    using cd = std::complex<double>;
    const int C = 4 + 2 * points;
    for (int t = 0; t < frames; ++t) {
        const double* ch = channels + static_cast<std::int64_t>(t) * C;
        const cd c = cd(ch[0], ch[1]) * size;
        const cd a = std::exp(cd(ch[2], ch[3])) * size;
        double* o = out + static_cast<std::int64_t>(t) * points * 2;
        for (int i = 0; i < points; ++i) {
            const cd z = c + a * (cd(m[2 * i], m[2 * i + 1]) + cd(ch[4 + 2 * i], ch[5 + 2 * i]));
            o[2 * i] = z.real();
            o[2 * i + 1] = z.imag();
        }
    }
}

}  // namespace ffaccel
#endif  // FFACCEL_CPU_BASE
