// stab_bank: the offline level bank of stabilize_track (src/ffaccel/stability/_bank.py).
//
// Per channel c (time-major input, channels contiguous) and per level j, the padded,
// periodic signal s_j (period n: the track, its odd reflections about the level's own
// end values p0/p1, a straight-line filler) is filtered by the zero-phase response
//
//   H_j(w) = 1 / (1 + (2 - 2 cos w)^K / L_j^2) = g_j^2 / |A_j(e^{iw})|^2,
//   A_j(z) = 1 + a_1 z^-1 + ... + a_K z^-K,  g_j = A_j(1),
//
// as a forward recursion (g_j / A_j(z)) and a backward one (g_j / A_j(1/z)), each started
// warm_j samples early on the periodic signal (the poles' decay over warm_j samples is
// below 1e-15): the circular convolution the numpy reference computes with FFTs.
//
// The level's end values p0 / p1 are the values at the first / last frame of the
// least-squares lines through its first / last ends_j frames; s_j is the common padded
// signal (odd reflection about the first / last frame, then a straight-line filler back
// to the start) with the first frame set to p0 and the left pad reflected about p0
// (2 p0 - y[k]), and the same at the right end.
//
// Then per frame and channel the ICI rule picks a level, which is widened (running
// maximum over +-erode frames), averaged over +-average frames, and the output blends
// the two nearest levels. Plain double arithmetic, no contraction: the baseline and the
// x86-64-v3 builds give the same bytes.
#pragma once

#include <cstdint>

namespace ffaccel {

constexpr int STAB_BANK_MAX_ORDER = 4;
constexpr int STAB_BANK_MAX_LEVELS = 64;
constexpr int STAB_BANK_MAX_CHANNELS = 1024;
// Lanes (levels x channels) the recursions aim to run side by side.
constexpr int STAB_BANK_LANES = 16;

struct StabBankParams {
    const double* padded = nullptr;  // (n, stride): one period of the common padded signal; columns >= C zero
    const int* ends = nullptr;       // (J,) frames of the lines fitted at each end (clipped to [2, T])
    const double* coef = nullptr;    // (J, order): a_1..a_order of A_j
    const int* warm = nullptr;       // (J,) warm-up samples of level j
    const double* norm = nullptr;    // (J,) noise gain ||h_j||
    const double* sdr = nullptr;     // (C,) measurement-noise standard deviation
    const int* low = nullptr;        // (C,) smoothest level channel c may use
    double* out = nullptr;           // (T, C)
    double* work = nullptr;          // scratch, stab_bank_work_size() doubles, 32-byte aligned
    int n = 0, t_len = 0, pad = 0, channels = 0, levels = 0, order = 0;
    int stride = 0;  // columns of padded: C rounded up to a multiple of 4
    double gamma = 1.5;
    int erode = 3, average = 5;
};

// Doubles of scratch stab_bank needs for a period of `period` (n) samples; the binding hands
// it 32-byte aligned.
std::int64_t stab_bank_work_size(int t_len, int channels, int stride, int levels, int max_warm, int period);

// The bank's noise input: per channel of y (T, C), max(median(|fourth difference|)^2 * scale,
// floor[c]) over the runs of five measured frames (the difference y[t] - 4 y[t+1] + 6 y[t+2]
// - 4 y[t+3] + y[t+4], summed in that order; numpy's median: the mean of the two middle
// values for an even count); floor[c] when T < 5 or no such run is measured.
void stab_noise_variance(const double* y, const std::uint8_t* measured, const double* floor, int t_len, int channels,
                         double scale, double* out);

namespace cpu {
void stab_bank(const StabBankParams& p);
}  // namespace cpu

}  // namespace ffaccel
