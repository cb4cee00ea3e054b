// CPU loops for the colour ops: rows split across the thread pool, the formulas of
// color.h per element, so the bytes match the CUDA kernels.
#include "ffaccel/color.h"

#include <cstring>
#include <mutex>
#include <vector>

#include "parallel.h"
#include "variant.h"

namespace ffaccel::cpu {
namespace FFACCEL_CPU_VARIANT {
namespace {

// linear_to_code() is a binary search; on the CPU a linear value's float bits narrow it
// first. A float in (0, 1) has bits below 0x3F800000; all floats sharing the top 17 bits
// lie in one bucket of about 0.8 % width, and code_at_bucket_start[b] is the code of the
// bucket's smallest float. The code of any l in the bucket is at least that (the code
// only grows with l) and at most a step or two above, found by walking the bounds up.
// Same function as linear_to_code(), so the same bytes as the GPU's binary search.
class CodeSearch {
public:
    explicit CodeSearch(const float* bound) {
        std::memcpy(bound_, bound, sizeof bound_);
        start_.resize(kBuckets);
        for (std::uint32_t b = 0; b < kBuckets; ++b) start_[b] = linear_to_code(float_of(b << kShift), bound_);
    }
    bool same_bounds(const float* bound) const { return std::memcmp(bound_, bound, sizeof bound_) == 0; }

    std::uint8_t code(float l) const {
        if (!(l > 0.0f)) return 0;  // negative, zero, NaN
        if (l >= 1.0f) return 255;  // bound[255] < 1
        int k = start_[bits_of(l) >> kShift];
        while (k < 255 && l >= bound_[k + 1]) ++k;
        return static_cast<std::uint8_t>(k);
    }

private:
    static constexpr int kShift = 15;
    static constexpr std::uint32_t kBuckets = (0x3F800000u >> kShift) + 1;
    float bound_[256];
    std::vector<std::uint8_t> start_;
};

// Built once per process (the bounds never change in practice; rebuilt if they do).
const CodeSearch& code_search(const float* bound) {
    static std::mutex lock;
    static const CodeSearch* current = nullptr;
    std::lock_guard<std::mutex> guard(lock);
    if (current == nullptr || !current->same_bounds(bound)) {
        static std::vector<const CodeSearch*> kept;  // earlier ones may still be in use
        current = new CodeSearch(bound);
        kept.push_back(current);
    }
    return *current;
}

// ns an element (channel value) on one core, x86-64-v3, per ColorMode: a table, the
// exact and float-only curves, the code search (measured on 1080p images).
constexpr double kElementNs[6] = {0.8, 28.0, 17.0, 57.0, 30.0, 4.6};

}  // namespace

void color_convert(const ColorParams& p, const ColorTables& t) {
    const int n = p.src.w * p.src.c;
    const int mode = static_cast<int>(p.mode);
    const double row_ns = n * kElementNs[mode >= 0 && mode < 6 ? mode : 3];
    if (p.mode == ColorMode::ToSrgbU8) {
        const CodeSearch& search = code_search(t.bound);
        parallel_for(p.src.h, row_ns, [&](int b, int e) {
            for (int y = b; y < e; ++y) {
                const float* in = row_ptr<float>(p.src, 0, y);
                std::uint8_t* out = row_ptr_mut<std::uint8_t>(p.dst, 0, y);
                for (int i = 0; i < n; ++i) out[i] = search.code(in[i]);
            }
        });
        return;
    }
    parallel_for(p.src.h, row_ns, [&](int b, int e) {
        for (int y = b; y < e; ++y) {
            for (int i = 0; i < n; ++i) color_element(p, t, i, y);
        }
    });
}

void apply_gain(const GainParams& p, const ColorTables& t) {
    const int w = p.src.w;
    if (p.mask.data == 0) {
        std::uint8_t lut[3][256];
        for (int c = 0; c < 3; ++c) {
            for (int v = 0; v < 256; ++v) lut[c][v] = gain_code(t, p.gain[c], v);
        }
        parallel_for(p.src.h, 1.5 * w, [&](int b, int e) {  // 1.5 ns a pixel (1080p, one core)
            for (int y = b; y < e; ++y) {
                const std::uint8_t* in = row_ptr<std::uint8_t>(p.src, 0, y);
                std::uint8_t* out = row_ptr_mut<std::uint8_t>(p.dst, 0, y);
                for (int x = 0; x < 3 * w; x += 3) {
                    out[x] = lut[0][in[x]];
                    out[x + 1] = lut[1][in[x + 1]];
                    out[x + 2] = lut[2][in[x + 2]];
                }
            }
        });
        return;
    }
    const CodeSearch& search = code_search(t.bound);
    parallel_for(p.src.h, 14.0 * w, [&](int b, int e) {  // 14 ns a pixel (1080p, one core)
        for (int y = b; y < e; ++y) {
            const std::uint8_t* in = row_ptr<std::uint8_t>(p.src, 0, y);
            std::uint8_t* out = row_ptr_mut<std::uint8_t>(p.dst, 0, y);
            for (int x = 0; x < w; ++x) {
                const float a = gain_weight(p.mask, x, y);
                for (int c = 0; c < 3; ++c) {
                    out[3 * x + c] = search.code(gain_blend(t.table[in[3 * x + c]], p.gain[c], a));
                }
            }
        }
    });
}

}  // namespace FFACCEL_CPU_VARIANT

FFACCEL_CPU_DISPATCH(void, color_convert, (const ColorParams& p, const ColorTables& t), (p, t))
FFACCEL_CPU_DISPATCH(void, apply_gain, (const GainParams& p, const ColorTables& t), (p, t))

}  // namespace ffaccel::cpu
