// CPU code of stab_causal (kernels/include/ffaccel/stab_causal.h): LandmarkStabilizer's causal
// mode, one frame per call, one thread. Each step names the Python it follows.
#include "ffaccel/stab_causal.h"

#include <algorithm>
#include <cmath>
#include <complex>

#include "variant.h"

// Scalar code, compiled once (baseline build only), as stab_rigid and stab_cuts.
#if defined(FFACCEL_CPU_BASE)
namespace ffaccel {
namespace cpu {
namespace {

constexpr double kTwoPi = 2.0 * 3.14159265358979323846;

// numpy's pairwise sum of n doubles a[i * st] (its add.reduce: blocks of 8 accumulators).
double pw_sum(const double* a, int n, int st) {
    if (n < 8) {
        double res = 0.0;
        for (int i = 0; i < n; ++i) res += a[i * st];
        return res;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; ++j) r[j] = a[j * st];
        int i = 8;
        for (; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; ++j) r[j] += a[(i + j) * st];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; ++i) res += a[i * st];
        return res;
    }
    int n2 = n / 2;
    n2 -= n2 % 8;
    return pw_sum(a, n2, st) + pw_sum(a + n2 * st, n - n2, st);
}

// numpy's pairwise sum of n complex numbers (re[k], im[k]) (its complex add.reduce).
void pw_csum(const double* re, const double* im, int n, double& rr, double& ri) {
    const int ns = 2 * n;  // numpy counts scalars
    if (ns < 8) {
        rr = 0.0;
        ri = 0.0;
        for (int k = 0; k < n; ++k) {
            rr += re[k];
            ri += im[k];
        }
        return;
    }
    if (ns <= 128) {
        double r[8];
        for (int j = 0; j < 4; ++j) {
            r[2 * j] = re[j];
            r[2 * j + 1] = im[j];
        }
        int i = 8;
        for (; i < ns - (ns % 8); i += 8)
            for (int j = 0; j < 4; ++j) {
                r[2 * j] += re[i / 2 + j];
                r[2 * j + 1] += im[i / 2 + j];
            }
        rr = (r[0] + r[2]) + (r[4] + r[6]);
        ri = (r[1] + r[3]) + (r[5] + r[7]);
        for (; i < ns; i += 2) {
            rr += re[i / 2];
            ri += im[i / 2];
        }
        return;
    }
    int n2 = ns / 2;
    n2 -= n2 % 8;
    double ar, ai, br, bi;
    pw_csum(re, im, n2 / 2, ar, ai);
    pw_csum(re + n2 / 2, im + n2 / 2, n - n2 / 2, br, bi);
    rr = ar + br;
    ri = ai + bi;
}

// numpy's complex division (Smith's method, as its CDOUBLE_divide loop), b != 0.
inline void cdiv(double ar, double ai, double br, double bi, double& qr, double& qi) {
    if (std::fabs(br) >= std::fabs(bi)) {
        const double rat = bi / br, scl = 1.0 / (br + bi * rat);
        qr = (ar + ai * rat) * scl;
        qi = (ai - ar * rat) * scl;
    } else {
        const double rat = br / bi, scl = 1.0 / (bi + br * rat);
        qr = (ar * rat + ai) * scl;
        qi = (ai * rat - ar) * scl;
    }
}

}  // namespace

StabCausal::StabCausal(const StabCausalConsts& k) : k_(k) { reset(); }

void StabCausal::reset() {
    n_ = 0;
    c_ = 0;
    have_r_carry_ = false;
    start_segment();
}

void StabCausal::start_segment() {  // stabilizer.py _start_segment
    last_ = Last::none;
    run_ = 0;
    have_m_ = false;
    size_ = 1.0;
    have_prev_ = have_before_ = false;
    gap_ = gap_before_ = 1;
    have_y_ = have_y2_ = have_y3_ = have_y4_ = false;
    n_meas_ = 0;
    have_mad_ = false;
    mad_n_ = 0;
    have_mad4_ = false;
    mad4_n_ = 0;
}

namespace {
// One step of the running median of |d| per channel (_noise_level.py _median_step): the median of
// the first 5 values, then a multiplicative step up or down.
void median_step(const double* d, int C, int& n, bool& have, std::vector<double>& med, std::vector<double>& seed,
                 double up, double down) {
    if (n < 5) {
        const int m = n + 1;  // seeds so far, with this one
        std::copy(d, d + C, seed.begin() + static_cast<std::ptrdiff_t>(n) * C);
        double col[5];
        for (int c = 0; c < C; ++c) {
            for (int i = 0; i < m; ++i) col[i] = seed[static_cast<size_t>(i) * C + c];
            std::sort(col, col + m);
            med[c] = (m % 2) ? col[m / 2] : (col[m / 2 - 1] + col[m / 2]) / 2.0;  // np.median
        }
        have = true;
    } else {
        for (int c = 0; c < C; ++c) med[c] = med[c] * (d[c] > med[c] ? up : down);
    }
    ++n;
}
}  // namespace

// _noise_level.py noise: the running median of |second difference|, as a noise variance r; in
// motion (the adaptive filter's a2 or boost above 0) at most d4_gain times the one of the
// fourth differences.
void StabCausal::noise(const double* y, bool consecutive, double* r) {
    const int C = c_;
    const double d4_scale = std::sqrt(6.0 / 70.0);
    if (consecutive && have_y_ && have_y2_) {
        double* d = tmp_.data();
        for (int c = 0; c < C; ++c) d[c] = std::fabs(y[c] - 2.0 * last_y_[c] + last_y2_[c]);
        median_step(d, C, mad_n_, have_mad_, mad_, seed_, k_.up, k_.down);
        if (k_.d4_gain > 0 && have_y3_ && have_y4_) {
            for (int c = 0; c < C; ++c)
                d[c] = std::fabs(y[c] - 4.0 * last_y_[c] + 6.0 * last_y2_[c] - 4.0 * last_y3_[c] + last_y4_[c]) *
                       d4_scale;
            median_step(d, C, mad4_n_, have_mad4_, mad4_, seed4_, k_.up, k_.down);
        }
    }
    for (int c = 0; c < C; ++c) {
        if (!have_mad_) {
            r[c] = k_.r_prior;
            continue;
        }
        const double q = mad_[c] / k_.mad;
        r[c] = std::max(q * q, k_.r_floor);
        if (have_mad4_ && (a2_[c] > 0 || boost_[c] > 0)) {
            const double q4 = mad4_[c] / k_.mad;
            r[c] = std::max(std::min(q * q, k_.d4_gain * (q4 * q4)), k_.r_floor);
        }
    }
}

void StabCausal::bank_start(const double* y) {  // AdaptiveFilter.__init__
    const int C = c_;
    for (int c = 0; c < C; ++c) {
        const bool rigid = c < 4;
        x_[c] = xd_[c] = y[c];
        v_[c] = vd_[c] = a2_[c] = excess_prev_[c] = bias_[c] = boost_[c] = 0.0;
        vfire_prev_[c] = 0;
        log_min_[c] = rigid ? k_.log_min_rigid : k_.log_min_resid;
        lam_[c] = rigid ? k_.lam_rigid : k_.lam_resid;
        alpha_[c] = rigid ? k_.alpha_rigid : k_.alpha_resid;
    }
    count_ = 1;
    s00_ = k_.start_p0;
    s01_ = 0.0;
    s11_ = k_.start_v0;
}

void StabCausal::bank_predict(double dt) {  // AdaptiveFilter.predict
    const double s00 = s00_ + 2.0 * dt * s01_ + dt * dt * s11_, s01 = s01_ + dt * s11_;
    s00_ = s00;
    s01_ = s01;
    for (int c = 0; c < c_; ++c) {
        x_[c] = x_[c] + v_[c] * dt;
        xd_[c] = xd_[c] + vd_[c] * dt;
    }
}

void StabCausal::bank_update(const double* y, const double* r, double dt) {  // AdaptiveFilter.update
    const int C = c_;
    const int kc = ++count_;
    const bool unit = dt == 1.0;
    const double b_det = unit ? k_.b_det : k_.b_det / dt;
    const double fall = 1.0 - k_.memory, keep = 1.0 - k_.bias_memory, decay = k_.boost_decay * k_.step;
    // the start-up Kalman filter's gains (AdaptiveFilter._startup)
    double s00 = s00_ + 2.0 * dt * s01_ + dt * dt * s11_, s01 = s01_ + dt * s11_;
    const double s11 = s11_;
    const double inv = 1.0 / (s00 + 1.0), k0 = s00 * inv, k1 = s01 * inv;
    s00_ = s00 - k0 * s00;
    s01_ = s01 - k0 * s01;
    s11_ = s11 - k1 * s01;
    const double a_floor = k0, b_floor = k1 * dt;
    for (int c = 0; c < C; ++c) {
        const double pd = unit ? xd_[c] + vd_[c] : xd_[c] + vd_[c] * dt;
        const double nu_d = y[c] - pd;
        xd_[c] = pd + k_.a_det * nu_d;
        vd_[c] = vd_[c] + b_det * nu_d;
        double excess_now = nu_d * nu_d;
        excess_now -= k_.thresh_nu0 * r[c];
        excess_now = std::max(excess_now, 0.0);
        const double excess = k_.persist ? std::min(excess_now, excess_prev_[c]) : excess_now;
        excess_prev_[c] = excess_now;
        if (kc > 3) {
            const double rate = excess > a2_[c] ? k_.rise_rate : fall;
            a2_[c] = a2_[c] + rate * (excess - a2_[c]);
        }
        if (k_.vgate) {
            const double dv = vd_[c] - v_[c];
            const bool fire_now = (dv * dv > k_.vgate2 * r[c]) && (lam_[c] < k_.lam_det);
            const bool fire = fire_now && vfire_prev_[c];
            vfire_prev_[c] = fire_now;
            if (fire) v_[c] = vd_[c];
        }
        const double p = unit ? x_[c] + v_[c] : x_[c] + v_[c] * dt;
        const double nu = y[c] - p;
        bias_[c] = k_.bias_memory * bias_[c] + keep * nu;
        const double sd = std::sqrt(r[c] / (1.0 - alpha_[c]) * k_.bias_var);
        const bool off = std::fabs(bias_[c]) > k_.bias_gate * sd;
        boost_[c] = off ? boost_[c] + k_.step : std::max(boost_[c] - decay, 0.0);
        double log_lam = std::max(0.5 * std::log(std::max(k_.kappa * a2_[c] / r[c], 1e-300)), log_min_[c] + boost_[c]);
        log_lam = std::min(log_lam, k_.log_max);
        const double lam = lam_[c] = std::exp(log_lam);
        const double l2 = lam * lam, s8 = l2 + 8.0 * lam, root = std::sqrt(s8);
        double alpha = alpha_[c] = (s8 - (lam + 4.0) * root) / -8.0;
        double beta = (l2 + 4.0 * lam - lam * root) / 4.0;
        if (a_floor >= k_.alpha_min) alpha = std::max(alpha, a_floor);
        if (b_floor >= k_.beta_min) beta = std::max(beta, b_floor);
        x_[c] = p + alpha * nu;
        v_[c] = v_[c] + (unit ? beta : beta / dt) * nu;
    }
    const double follow2 = k_.follow * k_.follow;
    if (follow2 != 0.0) {  // the follow bound on the centroid (channels 0, 1), in the state
        const double d0 = x_[0] - y[0], d1 = x_[1] - y[1];
        const double dist2 = d0 * d0 + d1 * d1, lim2 = follow2 * (r[0] + r[1]);
        if (dist2 > lim2) {
            const double shrink = std::sqrt(lim2 / dist2);
            x_[0] = y[0] + d0 * shrink;
            x_[1] = y[1] + d1 * shrink;
        }
    }
}

// _cuts.is_cut of the frame whose features are y2_[0..2] (centroid re, im; RMS radius s) and
// (ur_, ui_) (normalised shape), against the previous measured frame (prev_*) and the one
// before it (before_*). The sums run in plain order: only the decision is used.
bool StabCausal::is_cut() const {
    const int N = n_;
    const double cr = y2_[0], ci = y2_[1], s = y2_[2], sp = prev_s_;
    if (sp <= 0 || s <= 0) return false;
    double pr = prev_cr_, pi = prev_ci_;
    if (have_before_) {
        const double g = static_cast<double>(gap_) / static_cast<double>(gap_before_);
        pr = prev_cr_ + (prev_cr_ - before_cr_) * g;
        pi = prev_ci_ + (prev_ci_ - before_ci_) * g;
    }
    if (std::hypot(cr - pr, ci - pi) > k_.move * sp * std::pow(static_cast<double>(std::max(gap_, 1)), 0.5)) return true;
    if (std::fabs(std::log(s / sp)) > k_.log_zoom) return true;
    double ar = 0.0, ai = 0.0;  // vdot(up, u) / n
    for (int i = 0; i < N; ++i) {
        ar += prev_ur_[i] * ur_[i] + prev_ui_[i] * ui_[i];
        ai += prev_ur_[i] * ui_[i] - prev_ui_[i] * ur_[i];
    }
    ar /= N;
    ai /= N;
    if ((ar == 0.0 && ai == 0.0) || std::fabs(std::atan2(ai, ar)) > k_.turn) return true;
    const double aa = std::hypot(ar, ai), rr = ar / aa, ri = ai / aa;
    double dd = 0.0;
    for (int i = 0; i < N; ++i) {
        const double dr = ur_[i] - (rr * prev_ur_[i] - ri * prev_ui_[i]);
        const double di = ui_[i] - (rr * prev_ui_[i] + ri * prev_ur_[i]);
        dd += dr * dr + di * di;
    }
    return std::sqrt(dd / N) > k_.shape;
}

// _rigid.frame_channels of the frame whose centred points are (zr, zi) and centroid y2_[0..1], on
// the reference shape (mr, mi) of RMS radius size px, theta on the branch nearest theta_ref. False:
// no similarity (a == 0). Writes y and scratch only.
bool StabCausal::channels(const double* mr, const double* mi, double size, double theta_ref, const double* zr,
                          const double* zi, double* y) {
    const int N = n_;
    double* pr = tmp_.data() + c_;
    double* pi = pr + N;
    for (int i = 0; i < N; ++i) {  // centred * conj(m)
        pr[i] = zr[i] * mr[i] - zi[i] * -mi[i];
        pi[i] = zr[i] * -mi[i] + zi[i] * mr[i];
    }
    double sr, si;
    pw_csum(pr, pi, N, sr, si);
    const double inv_n = 1.0 / N;
    const double ar = sr * inv_n, ai = si * inv_n;
    if (ar == 0.0 && ai == 0.0) return false;
    for (int i = 0; i < N; ++i) {
        double qr, qi;
        cdiv(zr[i], zi[i], ar, ai, qr, qi);
        y[4 + 2 * i] = qr - mr[i];
        y[5 + 2 * i] = qi - mi[i];
    }
    y[0] = y2_[0] / size;
    y[1] = y2_[1] / size;
    y[2] = std::log(std::hypot(ar, ai) / size);
    const double theta = std::atan2(ai, ar);
    y[3] = theta + kTwoPi * std::nearbyint((theta_ref - theta) / kTwoPi);
    return true;
}

StabCausalResult StabCausal::fail(bool sizing, StabCausalResult res) {
    if (sizing) n_ = c_ = 0;  // the next detection fixes N
    return res;
}

void StabCausal::points(const double* ch, double* out) const {  // _rigid.frame_points
    const double cr = ch[0] * size_, ci = ch[1] * size_;
    const std::complex<double> e = std::exp(std::complex<double>(ch[2], ch[3]));
    const double ar = e.real() * size_ - e.imag() * 0.0, ai = e.real() * 0.0 + e.imag() * size_;
    for (int i = 0; i < n_; ++i) {
        const double br = mr_[i] + ch[4 + 2 * i], bi = mi_[i] + ch[5 + 2 * i];
        out[2 * i] = cr + (ar * br - ai * bi);
        out[2 * i + 1] = ci + (ar * bi + ai * br);
    }
}

StabCausalResult StabCausal::feed(const double* z, int n, std::ptrdiff_t s0, std::ptrdiff_t s1, double dt, bool cut,
                                  double* out) {
    const bool sizing = z != nullptr && n_ == 0;  // an error on this frame leaves N unset again
    if (sizing) {  // the first detection fixes N (until reset)
        n_ = n;
        c_ = 4 + 2 * n;
        const size_t N = static_cast<size_t>(n), C = static_cast<size_t>(c_);
        for (auto* v : {&r_carry_, &last_y_, &last_y2_, &last_y3_, &last_y4_, &mad_, &mad4_, &rec_x_, &x_, &v_,
                        &xd_, &vd_, &a2_, &yg_, &excess_prev_, &bias_, &boost_, &log_min_, &lam_, &alpha_, &y_, &r_})
            v->assign(C, 0.0);
        held_.assign(2 * N, 0.0);
        seed_.assign(5 * C, 0.0);
        seed4_.assign(5 * C, 0.0);
        tmp_.assign(C + 2 * N, 0.0);
        vfire_prev_.assign(C, 0);
        for (auto* v : {&mr_, &mi_, &prev_ur_, &prev_ui_, &zr_, &zi_, &ur_, &ui_}) v->assign(N, 0.0);
        y2_.assign(3, 0.0);
    }
    const int N = n_;
    if (z != nullptr) {  // _cuts.frame_features: centroid, RMS radius, normalised shape
        for (int i = 0; i < N; ++i) {
            zr_[i] = z[i * s0];
            zi_[i] = z[i * s0 + s1];
        }
        double sr, si;
        pw_csum(zr_.data(), zi_.data(), N, sr, si);
        const double inv_n = 1.0 / N, cr = sr * inv_n, ci = si * inv_n;
        double* sq = tmp_.data();
        for (int i = 0; i < N; ++i) {
            zr_[i] -= cr;  // from here: centred
            zi_[i] -= ci;
            sq[i] = zr_[i] * zr_[i] + zi_[i] * zi_[i];
        }
        const double s = std::sqrt(pw_sum(sq, N, 1) / N);
        const double inv_s = 1.0 / (s > 0 ? s : 1.0);
        for (int i = 0; i < N; ++i) {
            ur_[i] = zr_[i] * inv_s;
            ui_[i] = zi_[i] * inv_s;
        }
        y2_[0] = cr;
        y2_[1] = ci;
        y2_[2] = s;
    }
    // (stabilizer.py _advance) a frame that fails changes nothing: its channels are found first
    const bool restart = have_m_ && (cut || (z != nullptr && have_prev_ && is_cut()));
    const bool fresh = z != nullptr && (!have_m_ || restart);  // this frame becomes the reference shape
    double* y = y_.data();
    if (fresh) {
        if (!(y2_[2] > 0)) return fail(sizing, StabCausalResult::error_no_size);
        if (!channels(ur_.data(), ui_.data(), y2_[2], 0.0, zr_.data(), zi_.data(), y))
            return fail(sizing, StabCausalResult::error_degenerate);
    } else if (z != nullptr && !channels(mr_.data(), mi_.data(), size_, theta_, zr_.data(), zi_.data(), y)) {
        return fail(sizing, StabCausalResult::error_degenerate);
    }
    if (restart) start_segment();  // (causal: nothing pending)
    if (fresh) {
        mr_ = ur_;
        mi_ = ui_;
        size_ = y2_[2];
        have_m_ = true;
        theta_ = 0.0;
    }
    if (z == nullptr) {
        if (last_ != Last::real) {  // no face yet in this shot
            last_ = Last::before_face;
            return StabCausalResult::none;
        }
        ++gap_;
        bank_predict(dt);  // _step without a measurement
        ++run_;
        have_y_ = have_y2_ = have_y3_ = have_y4_ = false;
        if (run_ > k_.predict_max) {  // a long miss: held
            std::copy(held_.begin(), held_.end(), out);
        } else {
            points(x_.data(), out);
            std::copy(out, out + 2 * N, held_.begin());
        }
        return StabCausalResult::points;
    }
    bool have_last = last_ == Last::real;
    bool consecutive = gap_ == 1 && have_last;
    if (consecutive && n_meas_ == 1) {  // _first_frame_glitch: the first detection of the shot is in rec_x_
        bool glitch = false;
        for (int c = 0; c < 4; ++c) {
            const double r = have_r_carry_ ? r_carry_[c] : k_.r_prior;
            const double d = y[c] - rec_x_[c];
            glitch = glitch || d * d > k_.glitch * k_.glitch * (2.0 * r + k_.v_prior);
        }
        if (glitch) {  // restart the shot on this frame
            if (!channels(ur_.data(), ui_.data(), y2_[2], 0.0, zr_.data(), zi_.data(), yg_.data()))
                return fail(sizing, StabCausalResult::error_degenerate);  // (before the changes below)
            std::copy(yg_.begin(), yg_.end(), y_.begin());
            have_last = consecutive = false;
            mr_ = ur_;
            mi_ = ui_;
            size_ = y2_[2];
            theta_ = 0.0;
            n_meas_ = 1;  // once a shot (stabilizer.py says why)
            have_prev_ = false;
        }
    }
    theta_ = y[3];
    ++n_meas_;
    double* r = r_.data();
    if (!have_last) {  // _step, first frame of the shot
        noise(y, false, r);
        bank_start(y);
    } else {
        noise(y, consecutive, r);
        if (have_mad_) {
            r_carry_ = r_;
            have_r_carry_ = true;
        }
        bank_update(y, r, dt);
    }
    std::copy(x_.begin(), x_.end(), rec_x_.begin());
    if (consecutive) {  // the last four measured rows of a run
        last_y4_.swap(last_y3_);
        last_y3_.swap(last_y2_);
        last_y2_.swap(last_y_);
        have_y4_ = have_y3_;
        have_y3_ = have_y2_;
        have_y2_ = have_y_;
    } else {
        have_y2_ = have_y3_ = have_y4_ = false;
    }
    std::copy(y, y + c_, last_y_.begin());
    have_y_ = true;
    if (have_last) {
        have_before_ = have_prev_;
        before_cr_ = prev_cr_;
        before_ci_ = prev_ci_;
        gap_before_ = gap_;
    } else {
        have_before_ = false;
    }
    have_prev_ = true;
    prev_cr_ = y2_[0];
    prev_ci_ = y2_[1];
    prev_s_ = y2_[2];
    prev_ur_ = ur_;
    prev_ui_ = ui_;
    gap_ = 1;
    last_ = Last::real;
    run_ = 0;
    points(x_.data(), out);
    std::copy(out, out + 2 * N, held_.begin());
    return StabCausalResult::points;
}

}  // namespace cpu
}  // namespace ffaccel
#endif  // FFACCEL_CPU_BASE
