// affine: the one inversion of a 2x3 affine matrix, and the rules a matrix must meet.
//
// Every op takes the caller's matrices as OpenCV does (warp: source -> destination;
// paste: frame -> crop) and samples through the inverse. The bindings invert here, on
// the host, in double, by OpenCV's warpAffine formula (invertAffineTransform uses the
// same): for M = [[a, b, c], [d, e, f]] and D = 1 / (a*e - b*d),
//   inverse = [[e*D, -b*D, -(e*D)*c - (-b*D)*f], [-d*D, a*D, -(-d*D)*c - (a*D)*f]].
// The rules (checked_inverse) keep every float32 sample coordinate a*x + b*y + c finite
// for images up to 65535 pixels: the matrix is finite, invertible, and no entry of it or
// of its inverse exceeds kMatrixLimit in magnitude. The Python layer turns a fault into
// its named ValueError (ffaccel._checks.affine_inverse); the tests hold an independent
// numpy copy of the formula and the rules.
#pragma once

#include <cmath>

namespace ffaccel {

// 2**100: past it a float32 coordinate could overflow for a 65535-pixel image.
constexpr double kMatrixLimit = 0x1p100;

// OpenCV's affine inverse of m (6 doubles, row-major) into inv. A zero determinant gives
// zeros, as OpenCV does; checked_inverse refuses such a matrix before it gets here.
inline void invert_affine(const double* m, double* inv) {
    double d = m[0] * m[4] - m[1] * m[3];
    d = d != 0.0 ? 1.0 / d : 0.0;
    const double a11 = m[4] * d, a22 = m[0] * d, a12 = m[1] * -d, a21 = m[3] * -d;
    inv[0] = a11;
    inv[1] = a12;
    inv[2] = -a11 * m[2] - a12 * m[5];
    inv[3] = a21;
    inv[4] = a22;
    inv[5] = -a21 * m[2] - a22 * m[5];
}

// What is wrong with a matrix, in the order the rules are checked (the Python layer
// names each in its message).
enum class AffineFault : int {
    None = 0,
    NotFinite = 1,       // a NaN or an infinity (or entries whose sum overflows)
    TooLarge = 2,        // an entry past kMatrixLimit
    Singular = 3,        // determinant zero or not finite
    InverseTooLarge = 4  // an entry of the inverse past kMatrixLimit, or not finite
};

// Checks m against the rules and, when it passes, writes its inverse to inv. `det`
// receives the determinant (for the Singular message). The finiteness test sums the
// entries in order, as the Python reference does, so both refuse the same matrices.
inline AffineFault checked_inverse(const double* m, double* inv, double* det) {
    *det = 0.0;
    const double sum = m[0] + m[1] + m[2] + m[3] + m[4] + m[5];
    if (!std::isfinite(sum)) return AffineFault::NotFinite;
    for (int i = 0; i < 6; ++i) {
        if (std::fabs(m[i]) > kMatrixLimit) return AffineFault::TooLarge;
    }
    *det = m[0] * m[4] - m[1] * m[3];
    if (*det == 0.0 || !std::isfinite(*det)) return AffineFault::Singular;
    invert_affine(m, inv);
    for (int i = 0; i < 6; ++i) {
        if (!(std::fabs(inv[i]) <= kMatrixLimit)) return AffineFault::InverseTooLarge;  // NaN too
    }
    return AffineFault::None;
}

}  // namespace ffaccel
