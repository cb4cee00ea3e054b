// Each CPU op file is compiled twice: once for baseline x86-64 and once for
// x86-64-v3 (AVX2 + FMA), each into its own namespace (FFACCEL_CPU_VARIANT). The
// baseline build also defines the public entry point, which picks the v3 build when
// the processor has it. Contraction is off in both builds, and fma32() rounds once in
// both, so the two builds produce the same bytes; only the speed differs.
//
// FFACCEL_CPU_BASELINE=1 in the environment (read once) forces the baseline build, so
// the tests can check both builds on one machine.
#pragma once

#include <cstdlib>

#if !defined(FFACCEL_CPU_VARIANT)
#define FFACCEL_CPU_VARIANT base
#define FFACCEL_CPU_BASE 1
#endif

namespace ffaccel::cpu {

inline bool baseline_forced() {
    const char* v = std::getenv("FFACCEL_CPU_BASELINE");
    return v != nullptr && v[0] != '\0' && v[0] != '0';
}

inline bool has_x86_64_v3() {
#if defined(FFACCEL_HAVE_V3_BUILD) && defined(__x86_64__) && defined(__GNUC__)
    static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                           __builtin_cpu_supports("bmi2") && !baseline_forced();
    return ok;
#else
    return false;
#endif
}

}  // namespace ffaccel::cpu

// Defines the public cpu::NAME(...) that forwards to the best compiled variant.
#if defined(FFACCEL_CPU_BASE) && defined(FFACCEL_HAVE_V3_BUILD)
#define FFACCEL_CPU_DISPATCH(RET, NAME, PARAMS, ARGS)              \
    namespace v3 {                                                \
    RET NAME PARAMS;                                              \
    }                                                             \
    RET NAME PARAMS { return has_x86_64_v3() ? v3::NAME ARGS : base::NAME ARGS; }
#elif defined(FFACCEL_CPU_BASE)
#define FFACCEL_CPU_DISPATCH(RET, NAME, PARAMS, ARGS) \
    RET NAME PARAMS { return base::NAME ARGS; }
#else
#define FFACCEL_CPU_DISPATCH(RET, NAME, PARAMS, ARGS)
#endif
