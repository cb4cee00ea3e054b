// stab_causal: LandmarkStabilizer's causal mode (src/ffaccel/stability/stabilizer.py with
// _adaptive.py, _rigid.py, _cuts.py) as one object holding the state of one face's track, so
// that one frame is one call. The arithmetic follows the Python reference operation by
// operation (numpy's pairwise sums and complex division included); the constants, including
// the ones numpy derives with exp/log, come from the Python side (StabCausalConsts).
#pragma once

#include <cstddef>
#include <vector>

namespace ffaccel {

struct StabCausalConsts {
    // stabilizer.py
    double mad = 0, r_prior = 0, r_floor = 0, up = 0, down = 0, v_prior = 0, glitch = 0;
    double d4_gain = 0;  // the noise level in motion: fourth differences, this times their variance (0: off)
    double start_v0 = 0, start_p0 = 0;
    int predict_max = 0;
    // _adaptive.py (per-channel start values: rigid channels 0..3, residual channels 4..)
    double log_min_rigid = 0, log_min_resid = 0, lam_rigid = 0, lam_resid = 0, alpha_rigid = 0, alpha_resid = 0;
    double a_det = 0, b_det = 0, thresh_nu0 = 0, rise_rate = 0, memory = 0, vgate2 = 0, lam_det = 0;
    double bias_memory = 0, bias_var = 0, bias_gate = 0, step = 0, boost_decay = 0, kappa = 0;
    double log_max = 0, alpha_min = 0, beta_min = 0;
    double follow = 0;  // the follow bound (_adaptive.FOLLOW; 0: none)
    bool persist = true, vgate = true;
    // _cuts.py
    double move = 0, log_zoom = 0, turn = 0, shape = 0;
};

namespace cpu {

// Outcome of one frame.
enum class StabCausalResult { none, points, error_no_size, error_degenerate };

class StabCausal {
public:
    explicit StabCausal(const StabCausalConsts& k);
    // Forgets everything (LandmarkStabilizer.reset).
    void reset();
    // One frame: z (N, 2) pixels, element (i, j) at z[i * s0 + j * s1] (doubles), or nullptr for
    // a missed frame; dt in frames (> 0); cut: a known new shot. N must be the same for every
    // frame until reset (the caller checks). On StabCausalResult::points, out (N, 2) holds the
    // output; on an error (no face size, no similarity to the reference shape) the state is as
    // before the call (N not fixed either), as the Python reference leaves it.
    StabCausalResult feed(const double* z, int n, std::ptrdiff_t s0, std::ptrdiff_t s1, double dt, bool cut,
                          double* out);

    // The whole state (constants included) as doubles, for pickling; load() takes what save() gave
    // and returns false (changing nothing) for anything else.
    std::vector<double> save() const;
    int points_per_frame() const { return n_; }  // N, 0 before the first detection
    bool load(const std::vector<double>& s);

private:
    template <class Self, class F>
    static void visit(Self& self, F&& f);  // every member but the scratch, in one order (save / load)
    void start_segment();
    void noise(const double* y, bool consecutive, double* r);
    void bank_start(const double* y);
    void bank_predict(double dt);
    void bank_update(const double* y, const double* r, double dt);
    bool is_cut() const;
    bool channels(const double* mr, const double* mi, double size, double theta_ref, const double* zr, const double* zi,
                  double* y);
    StabCausalResult fail(bool sizing, StabCausalResult res);
    void points(const double* ch, double* out) const;

    StabCausalConsts k_;
    int n_ = 0, c_ = 0;
    // whole track
    bool have_r_carry_ = false;
    std::vector<double> r_carry_;
    // this shot
    enum class Last { none, before_face, real } last_ = Last::none;
    int run_ = 0;  // misses since the last measured frame
    bool have_m_ = false;
    std::vector<double> mr_, mi_;
    double size_ = 1.0, theta_ = 0.0;
    bool have_prev_ = false, have_before_ = false;
    double prev_cr_ = 0, prev_ci_ = 0, prev_s_ = 0, before_cr_ = 0, before_ci_ = 0;
    std::vector<double> prev_ur_, prev_ui_;
    int gap_ = 1, gap_before_ = 1;
    bool have_y_ = false, have_y2_ = false, have_y3_ = false, have_y4_ = false;
    std::vector<double> last_y_, last_y2_, last_y3_, last_y4_;
    std::vector<double> held_;
    int n_meas_ = 0;
    bool have_mad_ = false;
    int mad_n_ = 0;
    std::vector<double> mad_, seed_, rec_x_;  // rec_x_: x after the last measured frame (the glitch test reads the first)
    bool have_mad4_ = false;  // the same median over |fourth difference| (scaled to the second's units)
    int mad4_n_ = 0;
    std::vector<double> mad4_, seed4_;
    // the adaptive filter (_adaptive.AdaptiveFilter)
    std::vector<double> x_, v_, xd_, vd_, a2_, excess_prev_, bias_, boost_, log_min_, lam_, alpha_;
    std::vector<unsigned char> vfire_prev_;
    int count_ = 0;
    double s00_ = 0, s01_ = 0, s11_ = 0;
    // scratch
    std::vector<double> zr_, zi_, ur_, ui_, y_, yg_, y2_, r_, tmp_;
};

}  // namespace cpu
}  // namespace ffaccel
