// What the stabiliser's bindings (stab_*.cpp) share, written once:
// - the array kinds they take: float64 / int32 / uint8, C-contiguous, on the CPU, of a fixed
//   rank (nanobind refuses any other, and a read-only output, with TypeError);
// - Need, the check that raises ValueError "op: message";
// - the pieces both stab_bank and stab_offline_clean hand to cpu::stab_bank, and the errors
//   both stab_rigid and stab_offline_clean raise for a degenerate frame.
#pragma once

#include <nanobind/ndarray.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>

#include "bindings.h"
#include "ffaccel/stab_bank.h"
#include "ffaccel/stab_rigid.h"

namespace ffaccel::bindings::stab {

template <typename T, int Rank>
using Array = nb::ndarray<T, nb::ndim<Rank>, nb::c_contig, nb::device::cpu>;

using In1 = Array<const double, 1>;
using In2 = Array<const double, 2>;
using In3 = Array<const double, 3>;
using Int1 = Array<const int, 1>;
using U8 = Array<const std::uint8_t, 1>;
using Out1 = Array<double, 1>;
using Out2 = Array<double, 2>;
using Out3 = Array<double, 3>;
using Flags = Array<std::uint8_t, 1>;

// Largest landmark coordinate in pixels, each axis: ffaccel._checks.COORD_MAX (why it is there).
inline constexpr double kCoordMax = 1e12;

// need(ok, "msg") raises ValueError "op: msg" unless ok.
class Need {
public:
    explicit Need(const char* op) : op_(op) {}
    void operator()(bool ok, const char* msg) const {
        if (!ok) throw nb::value_error((std::string(op_) + ": " + msg).c_str());
    }

private:
    const char* op_;
};

// Whether the bytes [a, a + a_bytes) and [b, b + b_bytes) meet.
inline bool overlaps(const void* a, std::size_t a_bytes, const void* b, std::size_t b_bytes) {
    const char* pa = static_cast<const char*>(a);
    const char* pb = static_cast<const char*>(b);
    return pa < pb + b_bytes && pb < pa + a_bytes;
}

// Raises the ValueError of a frame cpu::stab_rigid could not split; nothing for ok.
inline void raise_rigid_failure(StabRigidStatus st) {
    if (st == StabRigidStatus::no_size)
        throw nb::value_error("landmarks: every point of a frame is at the same place (no face size)");
    if (st == StabRigidStatus::no_similarity)
        throw nb::value_error("landmarks: a frame has no similarity to the reference shape (degenerate points)");
}

// cpu::stab_bank's scratch: uninitialised (every element is written before it is read) and
// 64-byte aligned, stab_bank_work_size() doubles.
struct AlignedFree {
    void operator()(void* q) const { ::operator delete[](q, std::align_val_t(64)); }
};
using BankWork = std::unique_ptr<void, AlignedFree>;

inline BankWork bank_work(int t_len, int channels, int stride, int levels, int max_warm, int period) {
    const std::size_t bytes = sizeof(double) * static_cast<std::size_t>(
                                                   stab_bank_work_size(t_len, channels, stride, levels, max_warm, period));
    return BankWork(::operator new[](bytes, std::align_val_t(64)));
}

// The filter side of the level bank, as stab_bank takes it from Python: ends, warm, norm (J,),
// coef (J, order), low (C,), and the three scalars. (The offline bindings' Levels, in
// stab_offline.cpp, also carry the outlier and noise-floor settings.)
struct BankLevels {
    const Int1& ends;
    const In2& coef;
    const Int1& warm;
    const In1& norm;
    const Int1& low;
    double gamma;
    int erode, average;

    int levels() const { return static_cast<int>(coef.shape(0)); }
    int order() const { return static_cast<int>(coef.shape(1)); }
    bool lengths_match() const {
        const std::size_t J = coef.shape(0);
        return ends.shape(0) == J && warm.shape(0) == J && norm.shape(0) == J;
    }

    // cpu::stab_bank's parameters for the signal padded (n, stride) of which t_len frames
    // (after pad) are wanted, in `channels` columns with noise sdr (channels,); writes out
    // (t_len, channels); work from bank_work.
    StabBankParams params(const double* padded, int n, int stride, int t_len, int pad, int channels,
                          const double* sdr, double* out, void* work) const {
        StabBankParams p;
        p.padded = padded;
        p.ends = ends.data();
        p.coef = coef.data();
        p.warm = warm.data();
        p.norm = norm.data();
        p.sdr = sdr;
        p.low = low.data();
        p.out = out;
        p.work = static_cast<double*>(work);
        p.n = n;
        p.t_len = t_len;
        p.pad = pad;
        p.channels = channels;
        p.stride = stride;
        p.levels = levels();
        p.order = order();
        p.gamma = gamma;
        p.erode = erode;
        p.average = average;
        return p;
    }
};

}  // namespace ffaccel::bindings::stab
