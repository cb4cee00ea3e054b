// CPU loops for the colour ops: rows split across the thread pool, one inline formula
// per element (color.h), so the bytes match the CUDA kernels.
#include "ffaccel/color.h"

#include "parallel.h"
#include "variant.h"

namespace ffaccel::cpu {
namespace FFACCEL_CPU_VARIANT {

void color_convert(const ColorParams& p, const ColorTables& t) {
    const int n = p.src.w * p.src.c;
    parallel_for(p.src.h, [&](int b, int e) {
        for (int y = b; y < e; ++y) {
            for (int i = 0; i < n; ++i) color_element(p, t, i, y);
        }
    });
}

void apply_gain(const GainParams& p, const ColorTables& t) {
    parallel_for(p.src.h, [&](int b, int e) {
        for (int y = b; y < e; ++y) {
            for (int x = 0; x < p.src.w; ++x) gain_pixel(p, t, x, y);
        }
    });
}

}  // namespace FFACCEL_CPU_VARIANT

FFACCEL_CPU_DISPATCH(void, color_convert, (const ColorParams& p, const ColorTables& t), (p, t))
FFACCEL_CPU_DISPATCH(void, apply_gain, (const GainParams& p, const ColorTables& t), (p, t))

}  // namespace ffaccel::cpu
