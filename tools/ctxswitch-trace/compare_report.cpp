// The comparison's views: conclusions, table, JSON, SVG. Pure functions of the rows.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "compare.h"
#include "histogram.h"
#include "text.h"

namespace ctxswitch {

using tk::format_ns;

namespace {

constexpr double kLevel = 0.95;  // the confidence of the intervals conclusions rest on
// The smallest thread/process difference stated, as a fraction of "no difference" (a
// ratio of 1) or of the thread's figure: the p50s come from log-linear histograms (buckets
// 12.5% wide, interpolated), and what stays the same for a whole run (which row runs
// first, where memory landed) moves a ratio by a percent or two with nothing else changed.
constexpr double kMargin = 0.03;

const CompareRow* find(const std::vector<CompareRow>& rows, const std::string& model,
                       const std::string& ipc, const std::string& placement) {
    for (auto& r : rows)
        if (r.model == model && r.ipc == ipc && r.placement == placement)
            return &r;
    return nullptr;
}

double ratio(double a, double b) {
    return a > 0 && b > 0 ? a / b : std::nan("");
}

double difference(double a, double b) {
    return a - b;  // NaN stays NaN
}

// "5.40-5.50" in the unit format_ns gives `like`, so a range reads beside its median.
std::string format_range(double lo, double hi, double like) {
    double scale = 1;
    const char* fmt = "%.0f-%.0f";
    double m = std::fabs(like);
    if (m < 10 && like != double(int64_t(like)))
        fmt = "%.1f-%.1f";
    else if (m >= 1e9)
        scale = 1e9, fmt = "%.2f-%.2f";
    else if (m >= 1e6)
        scale = 1e6, fmt = "%.2f-%.2f";
    else if (m >= 1e3)
        scale = 1e3, fmt = "%.2f-%.2f";
    return tk::strprintf(fmt, lo / scale, hi / scale);
}

// "1.30 us (1.25-1.34)", or "-" when the figure was not measured.
std::string with_iqr(const Spread& s) {
    if (!s.n)
        return "-";
    return format_ns(s.median) + " (" + format_range(s.q1, s.q3, s.median) + ")";
}

std::string placement_title(const std::string& name) {
    if (name == "same-cpu")
        return "same CPU";
    if (name == "cross-cpu")
        return "cross-CPU";
    return name;
}

// "-12 ns" as well as "3.06 us"
std::string format_signed_ns(double ns) {
    return ns < 0 ? "-" + format_ns(-ns) : format_ns(ns);
}

// "0.96x", or "924x" where two decimals say nothing
std::string format_ratio(double v) {
    return std::fabs(v) >= 10 ? tk::strprintf("%.0fx", v) : tk::strprintf("%.2fx", v);
}

std::string interval_text(const Decision& d, const std::string& unit) {
    if (!d.interval.exists)
        return tk::strprintf("%zu round%s: too few for a %.0f%% interval", d.interval.n,
                             d.interval.n == 1 ? "" : "s", kLevel * 100);
    auto value = [&](double v) { return unit == "ratio" ? format_ratio(v) : format_signed_ns(v); };
    return tk::strprintf("%.0f%% CI %s to %s over %zu rounds", d.interval.coverage * 100,
                         value(d.interval.low).c_str(), value(d.interval.high).c_str(),
                         d.interval.n);
}

// The kernel models' rows of one placement, paired by IPC kind.
struct Pairs {
    std::vector<std::string> ipcs;
    std::vector<const CompareRow*> thread, process;
    // per pair, per round: the figure's values
    std::vector<std::vector<double>> values(const std::vector<const CompareRow*>& rows,
                                            Figure f) const {
        std::vector<std::vector<double>> v;
        for (auto* r : rows)
            v.push_back(r->values(f));
        return v;
    }
};

Pairs pairs_of(const std::vector<CompareRow>& rows, const std::string& placement) {
    Pairs p;
    for (auto& t : rows) {
        if (t.model != "thread" || t.placement != placement)
            continue;
        const CompareRow* proc = find(rows, "process", t.ipc, placement);
        if (!proc)
            continue;
        p.ipcs.push_back(t.ipc);
        p.thread.push_back(&t);
        p.process.push_back(proc);
    }
    return p;
}

// Round by round, A's figure F over B's (the rounds both have).
std::vector<double> ratios_per_round(const CompareRow& a, const CompareRow& b, Figure f) {
    auto x = a.values(f), y = b.values(f);
    std::vector<double> r;
    for (size_t k = 0; k < x.size() && k < y.size(); k++)
        r.push_back(ratio(x[k], y[k]));
    return r;
}

// "futex 0.93x, pipe 0.95x": each IPC kind's median over rounds of its own ratio
std::string per_ipc_ratios(const Pairs& p, Figure f) {
    std::string out;
    for (size_t i = 0; i < p.ipcs.size(); i++) {
        double m = median_of(ratios_per_round(*p.thread[i], *p.process[i], f));
        if (std::isfinite(m))
            out += tk::strprintf("%s%s %.2fx", out.empty() ? "" : ", ", p.ipcs[i].c_str(), m);
    }
    return out;
}

// A figure of one model in a placement, per round: the median over its paired rows.
std::vector<double> model_per_round(const Pairs& p, const std::vector<const CompareRow*>& rows,
                                    Figure f) {
    auto v = p.values(rows, f);
    return per_round_median(v, v, [](double a, double) { return a; });
}

Conclusion paired(const std::string& placement, const std::string& topic,
                  std::vector<double> per_round, double neutral, double margin,
                  const std::string& unit) {
    Conclusion c;
    c.placement = placement;
    c.topic = topic;
    c.paired = true;
    c.unit = unit;
    c.decision = decide(std::move(per_round), neutral, margin, kLevel);
    return c;
}

Conclusion ratio_conclusion(const Pairs& p, const std::string& placement, Figure f,
                            const std::string& topic, const std::string& what) {
    auto per_round = per_round_median(p.values(p.thread, f), p.values(p.process, f), ratio);
    Conclusion c = paired(placement, topic, per_round, 1.0, kMargin, "ratio");
    const Decision& d = c.decision;
    std::string where = placement_title(placement);
    std::string detail =
        tk::strprintf("%s; %s", interval_text(d, c.unit).c_str(), per_ipc_ratios(p, f).c_str());
    if (d.verdict == Verdict::not_measurable)
        c.text = tk::strprintf(
            "%s: thread vs process %s: no difference measurable here "
            "(thread/process %.2fx, %s)",
            where.c_str(), what.c_str(), d.spread.median, detail.c_str());
    else
        c.text = tk::strprintf("%s: a thread %s is %s than a process %s: %.2fx (%s)", where.c_str(),
                               what.c_str(), d.verdict == Verdict::lower ? "shorter" : "longer",
                               what.c_str(), d.spread.median, detail.c_str());
    return c;
}

Conclusion switch_cost_conclusion(const Pairs& p, const std::string& placement) {
    auto per_round = per_round_median(p.values(p.process, F_KERNEL_COST_P50),
                                      p.values(p.thread, F_KERNEL_COST_P50), difference);
    Spread t = spread_of(model_per_round(p, p.thread, F_KERNEL_COST_P50));
    Spread q = spread_of(model_per_round(p, p.process, F_KERNEL_COST_P50));
    Conclusion c =
        paired(placement, "kernel_switch_cost", per_round, 0.0, kMargin * t.median, "ns");
    const Decision& d = c.decision;
    std::string costs = tk::strprintf(
        "%s: in the kernel, a thread switch costs %s (IQR %s) and a process switch %s (%s)",
        placement_title(placement).c_str(), format_ns(t.median).c_str(),
        format_range(t.q1, t.q3, t.median).c_str(), format_ns(q.median).c_str(),
        format_range(q.q1, q.q3, q.median).c_str());
    std::string ci = interval_text(d, c.unit);
    if (d.verdict == Verdict::higher)
        c.text = tk::strprintf("%s: changing address spaces adds %s (%s)", costs.c_str(),
                               format_ns(d.spread.median).c_str(), ci.c_str());
    else if (d.verdict == Verdict::lower)
        c.text = tk::strprintf("%s: the process switch is %s cheaper (%s)", costs.c_str(),
                               format_ns(-d.spread.median).c_str(), ci.c_str());
    else
        c.text =
            tk::strprintf("%s: no difference measurable here (process - thread %s, %s)",
                          costs.c_str(), format_signed_ns(d.spread.median).c_str(), ci.c_str());
    return c;
}

// Enough rounds of a placement measured the in-kernel switch cost of both kinds? Across
// CPUs the tasks mostly switch to and from idle, and the thread/process kinds go unmeasured.
bool switch_cost_measured(const Pairs& p) {
    for (auto* rows : {&p.thread, &p.process}) {
        auto v = model_per_round(p, *rows, F_KERNEL_COST_P50);
        size_t measured =
            size_t(std::count_if(v.begin(), v.end(), [](double x) { return std::isfinite(x); }));
        if (measured * 2 < v.size() || measured == 0)
            return false;
    }
    return true;
}

void coroutine_conclusions(const std::vector<CompareRow>& rows, std::vector<Conclusion>& out) {
    const CompareRow* coro = find(rows, "coroutine", "asm", "same-cpu");
    const CompareRow* thread = find(rows, "thread", "futex", "same-cpu");
    if (coro && thread) {
        Conclusion k =
            paired("same-cpu", "coroutine_vs_thread",
                   ratios_per_round(*thread, *coro, F_SWITCH_COST), 1.0, kMargin, "ratio");
        Spread cs = coro->spread(F_SWITCH_COST), ts = thread->spread(F_SWITCH_COST);
        std::string figures = tk::strprintf(
            "a coroutine switch (hand-written asm, %s) vs a thread switch over a futex on one "
            "CPU (%s)",
            format_ns(cs.median).c_str(), format_ns(ts.median).c_str());
        if (k.decision.verdict == Verdict::higher)
            k.text = tk::strprintf(
                "a coroutine switch (hand-written asm, %s) is %.0fx cheaper than a thread "
                "switch over a futex on one CPU, %s (%s)",
                format_ns(cs.median).c_str(), k.decision.spread.median,
                format_ns(ts.median).c_str(), interval_text(k.decision, k.unit).c_str());
        else
            k.text = figures + ": no difference measurable here (" +
                     interval_text(k.decision, k.unit) + ")";
        out.push_back(k);
    }
    const CompareRow* uc = find(rows, "coroutine", "ucontext", "same-cpu");
    if (coro && uc) {
        Conclusion k = paired("same-cpu", "swapcontext_vs_asm",
                              ratios_per_round(*uc, *coro, F_SWITCH_COST), 1.0, kMargin, "ratio");
        Spread us = uc->spread(F_SWITCH_COST);
        if (k.decision.verdict == Verdict::higher)
            k.text = tk::strprintf(
                "swapcontext (%s) costs %.0fx the hand-written switch: it also saves and "
                "restores the signal mask with a system call (%s)",
                format_ns(us.median).c_str(), k.decision.spread.median,
                interval_text(k.decision, k.unit).c_str());
        else
            k.text = tk::strprintf(
                "swapcontext (%s) vs the hand-written switch: no difference measurable here "
                "(%s, %s)",
                format_ns(us.median).c_str(), format_ratio(k.decision.spread.median).c_str(),
                interval_text(k.decision, k.unit).c_str());
        out.push_back(k);
    }

    // who the kernel sees switching: a fact of every round, not a comparison
    double coro_max = 0, kernel_min = 1e18;
    bool any_coro = false, any_kernel = false;
    for (auto& r : rows) {
        for (double v : r.values(F_KERNEL_SW_PER_RT)) {
            if (!std::isfinite(v))
                continue;
            if (r.model != "coroutine") {
                kernel_min = std::min(kernel_min, v);
                any_kernel = true;
            } else {
                coro_max = std::max(coro_max, v);
                any_coro = true;
            }
        }
    }
    if (any_coro && any_kernel) {
        Conclusion k;
        k.topic = "kernel_sees_coroutines";
        k.text = tk::strprintf(
            "the kernel saw at most %.3f context switches per round trip for coroutines and at "
            "least %.2f for processes and threads, in every round: coroutine switches are "
            "invisible to it",
            coro_max, kernel_min);
        out.push_back(k);
    }
}

}  // namespace

const char* figure_key(Figure f) {
    static const char* const keys[F_COUNT] = {"rtt_p50_ns",
                                              "rtt_p99_ns",
                                              "switch_cost_ns",
                                              "handoff_p50_ns",
                                              "handoff_p99_ns",
                                              "kernel_switch_cost_p50_ns",
                                              "kernel_switches_per_rt",
                                              "workload_kernel_switches_per_rt",
                                              "user_switches_per_rt"};
    return f < F_COUNT ? keys[f] : "?";
}

std::vector<double> CompareRow::values(Figure f) const {
    std::vector<double> v;
    for (auto& r : rounds)
        v.push_back(r.v[f]);
    return v;
}

bool CompareRow::verified() const {
    return !rounds.empty() && std::all_of(rounds.begin(), rounds.end(),
                                          [](const RoundValues& r) { return r.verified; });
}

std::vector<Conclusion> compare_conclusions(const std::vector<CompareRow>& rows,
                                            const std::vector<Placement>& placements) {
    std::vector<Conclusion> out;
    for (auto& pl : placements) {
        Pairs p = pairs_of(rows, pl.name);
        if (p.ipcs.empty())
            continue;
        out.push_back(ratio_conclusion(p, pl.name, F_HANDOFF_P50, "handoff", "handoff"));
        if (switch_cost_measured(p)) {
            out.push_back(switch_cost_conclusion(p, pl.name));
        } else {
            // the rounds as they are (mostly not measured), never a statement
            Conclusion c =
                paired(pl.name, "kernel_switch_cost",
                       per_round_median(p.values(p.process, F_KERNEL_COST_P50),
                                        p.values(p.thread, F_KERNEL_COST_P50), difference),
                       0.0, 0.0, "ns");
            c.decision.verdict = Verdict::not_measurable;
            c.measured = false;
            c.text = placement_title(pl.name) +
                     ": the in-kernel thread and process switch costs are not measured here: "
                     "in most rounds the tasks switched to and from idle, not to each other";
            out.push_back(c);
        }
        out.push_back(ratio_conclusion(p, pl.name, F_RTT_P50, "round_trip", "round trip"));
    }
    coroutine_conclusions(rows, out);
    return out;
}

std::string compare_table(const CompareResult& r) {
    std::ostringstream out;
    out << tk::strprintf(
        "ctxswitch-trace compare: ping-pong matrix, %zu round%s (interleaved)%s, "
        "%.1f s\n",
        r.rounds, r.rounds == 1 ? "" : "s", r.quick ? ", --quick" : "", r.seconds);
    if (r.quick)
        out << "--quick is a smoke test: few rounds and small counts; its conclusions are not to "
               "be trusted\n";
    out << machine_summary(r.machine);
    out << "Each figure is the median over the rounds, with its interquartile range across "
           "rounds in brackets.\n";
    const char* head = "%-10s %-10s %23s %9s %11s %23s %9s %20s %7s %7s\n";
    for (auto& pl : r.placements) {
        bool any = std::any_of(r.rows.begin(), r.rows.end(),
                               [&](const CompareRow& row) { return row.placement == pl.name; });
        if (!any)
            continue;
        out << "\n";
        if (pl.name == "same-cpu")
            out << "same CPU: both tasks pinned to CPU " << pl.cpus
                << " (every handoff is a context switch)\n";
        else if (pl.name == "cross-cpu")
            out << "cross-CPU: ping pinned to CPU " << pl.cpus.substr(0, pl.cpus.find(','))
                << ", pong to CPU " << pl.cpus.substr(pl.cpus.find(',') + 1)
                << " (each handoff wakes the other CPU)\n";
        else
            out << "unpinned: the scheduler places the two tasks (not pinned; where they run "
                   "changes from run to run)\n";
        out << tk::strprintf(head, "model", "IPC", "round trip p50", "p99", "switch cost",
                             "handoff p50", "p99", "kernel sw cost p50", "kernel", "user");
        out << tk::strprintf(head, "", "", "(workload)", "", "(workload)", "(kernel)", "", "",
                             "sw/rt", "sw/rt");
        for (auto& row : r.rows) {
            if (row.placement != pl.name)
                continue;
            auto med = [&](Figure f) {
                Spread s = row.spread(f);
                return s.n ? format_ns(s.median) : std::string("-");
            };
            Spread ksw = row.spread(F_KERNEL_SW_PER_RT), usw = row.spread(F_USER_SW_PER_RT);
            out << tk::strprintf(
                "%-10s %-10s %23s %9s %11s %23s %9s %20s %7.2f %7.2f%s\n", row.model.c_str(),
                row.ipc.c_str(), with_iqr(row.spread(F_RTT_P50)).c_str(), med(F_RTT_P99).c_str(),
                med(F_SWITCH_COST).c_str(), with_iqr(row.spread(F_HANDOFF_P50)).c_str(),
                med(F_HANDOFF_P99).c_str(), with_iqr(row.spread(F_KERNEL_COST_P50)).c_str(),
                ksw.median, usw.median, row.verified() ? "" : "  NOT VERIFIED");
        }
    }
    out << tk::strprintf(
        "\nConclusions (a difference is stated only when the %.0f%% interval of its median "
        "across rounds lies wholly beyond %.0f%% of \"no difference\"; docs/compare.md):\n",
        kLevel * 100, kMargin * 100);
    for (auto& c : r.conclusions)
        out << "- " << c.text << "\n";
    out << "\nswitch cost (workload) = (round trip - the same IPC calls with nobody blocking) / 2; "
           "handoff = wakeup of one traced task by another until it runs; kernel sw cost = "
           "sched_switch -> end of __schedule in the next task (\"-\": the tasks switched to "
           "idle, not to each other). See docs/ctxswitch-trace.md.\n";
    return out.str();
}

namespace {

nlohmann::json spread_json(const std::vector<double>& rounds) {
    Spread s = spread_of(rounds);
    nlohmann::json j;
    j["n"] = s.n;
    for (auto [key, v] : {std::pair{"median", s.median},
                          {"q1", s.q1},
                          {"q3", s.q3},
                          {"min", s.min},
                          {"max", s.max}})
        j[key] = s.n ? nlohmann::json(v) : nlohmann::json(nullptr);
    auto& arr = j["rounds"] = nlohmann::json::array();
    for (double v : rounds)
        arr.push_back(std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr));
    return j;
}

const char* verdict_name(Verdict v) {
    switch (v) {
        case Verdict::lower:
            return "lower";
        case Verdict::higher:
            return "higher";
        case Verdict::not_measurable:
            break;
    }
    return "no difference measurable";
}

nlohmann::json machine_json(const MachineInfo& m) {
    return {{"cpu_model", m.cpu_model},
            {"cpus", m.cpus},
            {"kernel", m.kernel},
            {"virtualised", m.virtualised},
            {"hypervisor_signature", m.hypervisor_signature},
            {"pcid", m.pcid},
            {"pti", m.pti},
            {"spectre_v2_mitigation", m.spectre_v2_mitigation},
            {"ibrs", m.ibrs},
            {"ibpb", m.ibpb},
            {"stibp", m.stibp},
            {"sysfs",
             {{"meltdown", m.meltdown},
              {"spectre_v2", m.spectre_v2},
              {"spectre_v2_user", m.spectre_v2_user}}}};
}

}  // namespace

nlohmann::json compare_json(const CompareResult& r) {
    nlohmann::json j;
    j["tool"] = "ctxswitch-trace compare";
    j["schema_version"] = 2;
    j["quick"] = r.quick;
    j["rounds"] = r.rounds;
    j["seconds"] = r.seconds;
    j["confidence"] = kLevel;
    j["margin"] = kMargin;
    j["machine"] = machine_json(r.machine);
    auto& pls = j["placements"] = nlohmann::json::array();
    for (auto& p : r.placements)
        pls.push_back({{"name", p.name}, {"cpus", p.cpus.empty() ? "unpinned" : p.cpus}});
    auto& rows = j["rows"] = nlohmann::json::array();
    for (auto& row : r.rows) {
        nlohmann::json o = {{"model", row.model},
                            {"ipc", row.ipc},
                            {"placement", row.placement},
                            {"cpus", row.cpus},
                            {"user_switches_source", row.user_switches_source},
                            {"verified", row.verified()}};
        auto& its = o["iterations"] = nlohmann::json::array();
        for (auto& rv : row.rounds)
            its.push_back(rv.iterations);
        for (size_t f = 0; f < F_COUNT; f++)
            o[figure_key(Figure(f))] = spread_json(row.values(Figure(f)));
        rows.push_back(std::move(o));
    }
    auto& cs = j["conclusions"] = nlohmann::json::array();
    for (auto& c : r.conclusions) {
        nlohmann::json o = {{"placement", c.placement.empty() ? nlohmann::json(nullptr)
                                                              : nlohmann::json(c.placement)},
                            {"topic", c.topic},
                            {"text", c.text},
                            {"stated", !c.paired || c.decision.stated()}};
        if (c.paired) {
            const Decision& d = c.decision;
            o["unit"] = c.unit;
            o["verdict"] = c.measured ? verdict_name(d.verdict) : "not measured";
            o["per_round"] = spread_json(d.per_round);
            o["margin"] = d.margin;
            o["interval"] = d.interval.exists ? nlohmann::json{{"low", d.interval.low},
                                                               {"high", d.interval.high},
                                                               {"coverage", d.interval.coverage},
                                                               {"k", d.interval.k}}
                                              : nlohmann::json(nullptr);
        }
        cs.push_back(std::move(o));
    }
    return j;
}

std::string compare_svg(const CompareResult& r) {
    const int left = 210, right = 60, top = 78, row_h = 26, head_h = 26, width = 1000;
    const int plot_w = width - left - right;
    // the rows in placement order, with a heading per placement
    std::vector<std::pair<std::string, const CompareRow*>> lines;
    for (auto& pl : r.placements) {
        bool first = true;
        for (auto& row : r.rows) {
            if (row.placement != pl.name)
                continue;
            if (first)
                lines.push_back({pl.name, nullptr});
            first = false;
            lines.push_back({pl.name, &row});
        }
    }
    int plot_h = 0;
    for (auto& l : lines)
        plot_h += l.second ? row_h : head_h;
    const int height = top + plot_h + 70;
    double hi = 10;
    for (auto& row : r.rows)
        hi = std::max(hi, row.spread(F_RTT_P50).q3 * 1.5);
    double decades_lo = 0, decades_hi = std::ceil(std::log10(hi));
    auto x = [&](double ns) {
        double v = std::log10(std::max(ns, 1.0));
        return left + (v - decades_lo) / (decades_hi - decades_lo) * plot_w;
    };
    std::map<std::string, std::string> color = {
        {"process", "#d95f02"}, {"thread", "#1b9e77"}, {"coroutine", "#7570b3"}};
    std::ostringstream s;
    s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
    s << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    s << "<text x=\"" << left
      << "\" y=\"22\" font-size=\"15\" font-weight=\"bold\">Ping-pong: round trip p50 (bar) and "
         "kernel handoff p50 (thin bar), log scale</text>\n";
    s << "<text x=\"" << left << "\" y=\"40\" fill=\"#555\">Medians over " << r.rounds
      << " rounds; whiskers: interquartile range across rounds."
      << (r.quick ? " --quick: a smoke test, not to be trusted." : "") << "</text>\n";
    s << "<text x=\"" << left << "\" y=\"56\" fill=\"#555\">"
      << (r.machine.cpu_model.empty() ? "unknown CPU" : r.machine.cpu_model) << ", "
      << r.machine.cpus << " CPUs, " << (r.machine.virtualised ? "virtualised" : "bare metal")
      << ", PTI " << r.machine.pti << ", " << r.machine.kernel << "</text>\n";
    int bottom = top + plot_h;
    for (int d = int(decades_lo); d <= int(decades_hi); d++) {
        double px = x(std::pow(10.0, d));
        s << "<line x1=\"" << px << "\" y1=\"" << top - 6 << "\" x2=\"" << px << "\" y2=\""
          << bottom << "\" stroke=\"#ddd\"/>\n";
        s << "<text x=\"" << px << "\" y=\"" << bottom + 18
          << "\" text-anchor=\"middle\" fill=\"#555\">" << format_ns(std::pow(10.0, d))
          << "</text>\n";
    }
    auto whisker = [&](const Spread& sp, int y, int h) {
        double a = x(sp.q1), b = x(sp.q3);
        s << "<line x1=\"" << a << "\" y1=\"" << y << "\" x2=\"" << b << "\" y2=\"" << y
          << "\" stroke=\"#222\"/>\n";
        for (double px : {a, b})
            s << "<line x1=\"" << px << "\" y1=\"" << y - h << "\" x2=\"" << px << "\" y2=\""
              << y + h << "\" stroke=\"#222\"/>\n";
    };
    int y = top;
    for (auto& [placement, row] : lines) {
        if (!row) {
            s << "<text x=\"8\" y=\"" << y + 18 << "\" font-weight=\"bold\">"
              << placement_title(placement) << "</text>\n";
            s << "<line x1=\"8\" y1=\"" << y + 22 << "\" x2=\"" << width - right << "\" y2=\""
              << y + 22 << "\" stroke=\"#999\"/>\n";
            y += head_h;
            continue;
        }
        std::string c = color.count(row->model) ? color[row->model] : "#888";
        Spread rtt = row->spread(F_RTT_P50), handoff = row->spread(F_HANDOFF_P50);
        s << "<text x=\"" << left - 8 << "\" y=\"" << y + 16 << "\" text-anchor=\"end\">"
          << row->model << " / " << row->ipc << "</text>\n";
        if (rtt.n) {
            s << "<rect x=\"" << left << "\" y=\"" << y + 3 << "\" width=\""
              << std::max(1.0, x(rtt.median) - left) << "\" height=\"" << 13 << "\" fill=\"" << c
              << "\"><title>" << row->model << " over " << row->ipc << ", "
              << placement_title(placement) << ": round trip p50 " << format_ns(rtt.median)
              << " (IQR " << format_ns(rtt.q1) << " to " << format_ns(rtt.q3)
              << ")</title></rect>\n";
            whisker(rtt, y + 9, 5);
            s << "<text x=\"" << x(std::max(rtt.q3, rtt.median)) + 6 << "\" y=\"" << y + 14
              << "\" fill=\"#333\">" << format_ns(rtt.median) << "</text>\n";
        }
        if (handoff.n) {
            s << "<rect x=\"" << left << "\" y=\"" << y + 18 << "\" width=\""
              << std::max(1.0, x(handoff.median) - left) << "\" height=\"5\" fill=\"#444\">"
              << "<title>kernel handoff p50 " << format_ns(handoff.median) << " (IQR "
              << format_ns(handoff.q1) << " to " << format_ns(handoff.q3) << ")</title></rect>\n";
            whisker(handoff, y + 20, 3);
        }
        y += row_h;
    }
    int ly = bottom + 40;
    int lx = left;
    for (auto& [model, c] :
         std::vector<std::pair<std::string, std::string>>{{"process", color["process"]},
                                                          {"thread", color["thread"]},
                                                          {"coroutine", color["coroutine"]},
                                                          {"kernel handoff", "#444"}}) {
        s << "<rect x=\"" << lx << "\" y=\"" << ly - 10 << "\" width=\"12\" height=\"12\" fill=\""
          << c << "\"/><text x=\"" << lx + 16 << "\" y=\"" << ly << "\">" << model << "</text>\n";
        lx += 130;
    }
    s << "</svg>\n";
    return s.str();
}

}  // namespace ctxswitch
