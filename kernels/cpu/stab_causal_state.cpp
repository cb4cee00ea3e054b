// CPU code of stab_causal (kernels/include/ffaccel/stab_causal.h), continued: the whole state of a
// StabCausal as float64 values (save / load), for pickling LandmarkStabilizer(mode="causal").
#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

#include "ffaccel/stab_causal.h"

#include "variant.h"

// Scalar code, compiled once (baseline build only), as stab_causal.cpp.
#if defined(FFACCEL_CPU_BASE)
namespace ffaccel {
namespace cpu {

namespace {

constexpr double kStateVersion = 3.0;  // bump when the members or their order change

struct Saver {
    std::vector<double>& o;
    void operator()(double v) { o.push_back(v); }
    void operator()(int v) { o.push_back(v); }
    void operator()(bool v) { o.push_back(v ? 1.0 : 0.0); }
    template <class T>
    void operator()(const std::vector<T>& v) {
        o.push_back(static_cast<double>(v.size()));
        for (const T& e : v) o.push_back(static_cast<double>(e));
    }
};

struct Loader {
    const std::vector<double>& s;
    size_t i = 0;
    bool ok = true;
    bool next(double& v) {
        ok = ok && i < s.size();
        v = ok ? s[i++] : 0.0;
        return ok;
    }
    void operator()(double& v) { next(v); }
    void operator()(int& v) {
        double d;
        if (next(d)) ok = d == std::nearbyint(d) && std::fabs(d) < 1e9;
        v = ok ? static_cast<int>(d) : 0;
    }
    void operator()(bool& v) {
        double d;
        if (next(d)) ok = d == 0.0 || d == 1.0;
        v = d == 1.0;
    }
    template <class T>
    void operator()(std::vector<T>& v) {
        double d;
        if (next(d)) ok = d == std::nearbyint(d) && d >= 0 && d <= static_cast<double>(s.size() - i);
        if (!ok) return;
        v.assign(s.begin() + static_cast<std::ptrdiff_t>(i), s.begin() + static_cast<std::ptrdiff_t>(i + static_cast<size_t>(d)));
        i += static_cast<size_t>(d);
    }
};

}  // namespace

template <class Self, class F>
void StabCausal::visit(Self& t, F&& f) {
    auto& k = t.k_;
    for (auto* v : {&k.mad, &k.d4_gain, &k.r_prior, &k.r_floor, &k.up, &k.down, &k.v_prior, &k.glitch, &k.start_v0, &k.start_p0,
                    &k.log_min_rigid, &k.log_min_resid, &k.lam_rigid, &k.lam_resid, &k.alpha_rigid, &k.alpha_resid,
                    &k.a_det, &k.b_det, &k.thresh_nu0, &k.rise_rate, &k.memory, &k.vgate2, &k.lam_det,
                    &k.bias_memory, &k.bias_var, &k.bias_gate, &k.step, &k.boost_decay, &k.kappa, &k.log_max,
                    &k.alpha_min, &k.beta_min, &k.move, &k.log_zoom, &k.turn, &k.shape, &k.follow})
        f(*v);
    f(k.predict_max);
    f(k.persist);
    f(k.vgate);
    f(t.n_);
    f(t.c_);
    f(t.have_r_carry_);
    f(t.run_);
    f(t.have_m_);
    f(t.size_);
    f(t.theta_);
    f(t.have_prev_);
    f(t.have_before_);
    for (auto* v : {&t.prev_cr_, &t.prev_ci_, &t.prev_s_, &t.before_cr_, &t.before_ci_}) f(*v);
    f(t.gap_);
    f(t.gap_before_);
    f(t.have_y_);
    f(t.have_y2_);
    f(t.have_y3_);
    f(t.have_y4_);
    f(t.n_meas_);
    f(t.have_mad_);
    f(t.mad_n_);
    f(t.have_mad4_);
    f(t.mad4_n_);
    f(t.count_);
    for (auto* v : {&t.s00_, &t.s01_, &t.s11_}) f(*v);
    for (auto* v : {&t.r_carry_, &t.mr_, &t.mi_, &t.prev_ur_, &t.prev_ui_, &t.last_y_, &t.last_y2_, &t.last_y3_,
                    &t.last_y4_, &t.held_, &t.mad_, &t.mad4_, &t.seed_, &t.seed4_, &t.rec_x_, &t.x_, &t.v_, &t.xd_, &t.vd_, &t.a2_, &t.excess_prev_, &t.bias_, &t.boost_,
                    &t.log_min_, &t.lam_, &t.alpha_})
        f(*v);
    f(t.vfire_prev_);
}

std::vector<double> StabCausal::save() const {
    std::vector<double> out{kStateVersion};
    Saver sv{out};
    visit(*this, sv);
    sv(static_cast<int>(last_));
    return out;
}

bool StabCausal::load(const std::vector<double>& s) {
    if (s.empty() || s[0] != kStateVersion) return false;
    StabCausal t(StabCausalConsts{});
    Loader ld{s, 1};
    visit(t, ld);
    int last = 0;
    ld(last);
    const size_t N = static_cast<size_t>(t.n_), C = static_cast<size_t>(t.c_);
    bool ok = ld.ok && ld.i == s.size() && last >= 0 && last <= 2 && t.n_ >= 0 &&
              (t.n_ == 0 ? t.c_ == 0 : t.n_ >= 2 && t.c_ == 4 + 2 * t.n_);
    if (ok && t.n_ > 0) {  // every vector at its size for N (as feed allocates them)
        for (const auto* v : {&t.r_carry_, &t.last_y_, &t.last_y2_, &t.last_y3_, &t.last_y4_, &t.mad_, &t.mad4_, &t.rec_x_, &t.x_, &t.v_, &t.xd_, &t.vd_,
                              &t.a2_, &t.excess_prev_, &t.bias_, &t.boost_, &t.log_min_, &t.lam_, &t.alpha_})
            ok = ok && v->size() == C;
        for (const auto* v : {&t.mr_, &t.mi_, &t.prev_ur_, &t.prev_ui_}) ok = ok && v->size() == N;
        ok = ok && t.held_.size() == 2 * N && t.seed_.size() == 5 * C && t.seed4_.size() == 5 * C && t.vfire_prev_.size() == C;
        ok = ok && t.mad_n_ >= 0 && t.count_ >= 0;
    }
    if (!ok) return false;
    t.last_ = static_cast<Last>(last);
    if (t.n_ > 0) {  // scratch
        for (auto* v : {&t.y_, &t.yg_, &t.r_}) v->assign(C, 0.0);
        for (auto* v : {&t.zr_, &t.zi_, &t.ur_, &t.ui_}) v->assign(N, 0.0);
        t.tmp_.assign(C + 2 * N, 0.0);
        t.y2_.assign(3, 0.0);
    }
    *this = std::move(t);
    return true;
}

}  // namespace cpu
}  // namespace ffaccel
#endif  // FFACCEL_CPU_BASE
