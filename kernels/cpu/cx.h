// A plain complex number for the stabiliser's scalar kernels (stab_rigid, stab_points,
// stab_cuts): every product written out in real arithmetic (no __muldc3 / hypot calls,
// which std::complex makes in the size-optimised baseline build). Internal to kernels/cpu.
#pragma once

#include <cmath>

// GCC 12's SLP vectoriser turns these complex products into fused multiply-adds (vfmaddsub)
// at -O3 -march=x86-64-v3 despite -ffp-contract=off. The pragma holds to the end of the
// including file, so nothing after this include (the loops that use Cx) is vectorised.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-vectorize")
#endif

namespace ffaccel::cpu {
namespace {  // internal linkage: each build keeps its own copy

struct Cx {
    double re = 0.0, im = 0.0;
};

inline Cx operator+(Cx a, Cx b) { return {a.re + b.re, a.im + b.im}; }
inline Cx operator-(Cx a, Cx b) { return {a.re - b.re, a.im - b.im}; }
inline Cx operator*(Cx a, Cx b) { return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re}; }
inline Cx operator*(Cx a, double s) { return {a.re * s, a.im * s}; }
inline Cx operator/(Cx a, double s) { return {a.re / s, a.im / s}; }
inline Cx conj(Cx a) { return {a.re, -a.im}; }
inline double norm2(Cx a) { return a.re * a.re + a.im * a.im; }
inline double absc(Cx a) { return std::sqrt(norm2(a)); }
inline Cx inverse(Cx a) { return conj(a) / norm2(a); }  // a != 0
inline bool is_zero(Cx a) { return a.re == 0.0 && a.im == 0.0; }
inline Cx expc(Cx a) {
    const double r = std::exp(a.re);
    return {r * std::cos(a.im), r * std::sin(a.im)};
}

}  // namespace
}  // namespace ffaccel::cpu
