// The comparison's views: table, conclusions, JSON, SVG. Pure functions of the rows.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "compare.h"
#include "text.h"
#include "histogram.h"

namespace ctxswitch {

using tk::format_ns;

namespace {

const CompareRow* find(const std::vector<CompareRow>& rows, const std::string& model,
                       const std::string& ipc) {
    for (auto& r : rows)
        if (r.model == model && r.ipc == ipc)
            return &r;
    return nullptr;
}

double median(std::vector<double> v) {
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

bool kernel_model(const CompareRow& r) {
    return r.model != "coroutine";
}

}  // namespace

std::vector<std::string> compare_conclusions(const std::vector<CompareRow>& rows) {
    std::vector<std::string> out;

    // thread vs process handoff, IPC by IPC where both exist
    std::vector<double> ratios;
    std::string pairs;
    for (auto& t : rows) {
        if (t.model != "thread" || !t.handoff_count)
            continue;
        const CompareRow* p = find(rows, "process", t.ipc);
        if (!p || !p->handoff_count || !p->handoff_p50_ns)
            continue;
        double ratio = double(t.handoff_p50_ns) / double(p->handoff_p50_ns);
        ratios.push_back(ratio);
        pairs += tk::strprintf("%s%s %.2fx", pairs.empty() ? "" : ", ", t.ipc.c_str(), ratio);
    }
    if (!ratios.empty())
        out.push_back(
            tk::strprintf("thread handoff is %.2fx process handoff here (median over the IPC kinds "
                          "both have: %s)",
                          median(ratios), pairs.c_str()));

    // in-kernel switch cost by kind
    std::vector<double> thread_cost, process_cost;
    for (auto& r : rows) {
        if (!r.kernel_switch_cost_p50_ns)
            continue;
        if (r.model == "thread")
            thread_cost.push_back(double(r.kernel_switch_cost_p50_ns));
        if (r.model == "process")
            process_cost.push_back(double(r.kernel_switch_cost_p50_ns));
    }
    if (!thread_cost.empty() && !process_cost.empty()) {
        double t = median(thread_cost), p = median(process_cost);
        out.push_back(tk::strprintf(
            "in the kernel, a thread switch costs %s and a process switch %s (p50, median over "
            "rows): "
            "changing address spaces adds %s",
            format_ns(t).c_str(), format_ns(p).c_str(), format_ns(std::max(0.0, p - t)).c_str()));
    }

    // coroutine vs thread switch, from the workloads' own estimates
    const CompareRow* coro = find(rows, "coroutine", "asm");
    const CompareRow* thread = find(rows, "thread", "futex");
    if (coro && thread && coro->switch_cost_ns > 0 && thread->switch_cost_ns > 0)
        out.push_back(tk::strprintf(
            "a coroutine switch (hand-written asm, %s) is %.0fx cheaper than a thread switch over "
            "a "
            "futex (%s)",
            format_ns(coro->switch_cost_ns).c_str(), thread->switch_cost_ns / coro->switch_cost_ns,
            format_ns(thread->switch_cost_ns).c_str()));
    const CompareRow* uc = find(rows, "coroutine", "ucontext");
    if (coro && uc && coro->switch_cost_ns > 0 && uc->switch_cost_ns > 0)
        out.push_back(tk::strprintf(
            "swapcontext (%s) costs %.0fx the hand-written switch: it also saves and restores the "
            "signal mask with a system call",
            format_ns(uc->switch_cost_ns).c_str(), uc->switch_cost_ns / coro->switch_cost_ns));

    // who the kernel sees switching
    double coro_max = 0, kernel_min = 1e18;
    bool any_coro = false, any_kernel = false;
    for (auto& r : rows) {
        if (kernel_model(r)) {
            kernel_min = std::min(kernel_min, r.kernel_switches_per_rt);
            any_kernel = true;
        } else {
            coro_max = std::max(coro_max, r.kernel_switches_per_rt);
            any_coro = true;
        }
    }
    if (any_coro && any_kernel)
        out.push_back(
            tk::strprintf("the kernel saw at most %.3f context switches per round trip for "
                          "coroutines and at least "
                          "%.2f for processes and threads: coroutine switches are invisible to it",
                          coro_max, kernel_min));
    return out;
}

std::string compare_table(const CompareResult& r) {
    std::ostringstream out;
    out << tk::strprintf("ctxswitch-trace compare: ping-pong matrix, CPUs: %s%s, %.1f s\n\n",
                         r.cpus.c_str(), r.quick ? " (quick)" : "", r.seconds);
    out << tk::strprintf("%-10s %-10s %23s %12s %23s %12s %9s %9s\n", "model", "IPC",
                         "round trip p50 / p99", "switch cost", "handoff p50 / p99", "kernel sw",
                         "kernel", "user");
    out << tk::strprintf("%-10s %-10s %23s %12s %23s %12s %9s %9s\n", "", "", "(workload)",
                         "(workload)", "(kernel)", "cost p50", "sw/rt", "sw/rt");
    for (auto& row : r.rows) {
        std::string rtt = format_ns(row.rtt_p50_ns) + " / " + format_ns(row.rtt_p99_ns);
        std::string handoff = row.handoff_count ? format_ns(double(row.handoff_p50_ns)) + " / " +
                                                      format_ns(double(row.handoff_p99_ns))
                                                : "-";
        std::string cost =
            row.kernel_switch_cost_p50_ns ? format_ns(double(row.kernel_switch_cost_p50_ns)) : "-";
        out << tk::strprintf("%-10s %-10s %23s %12s %23s %12s %9.2f %9.2f%s\n", row.model.c_str(),
                             row.ipc.c_str(), rtt.c_str(), format_ns(row.switch_cost_ns).c_str(),
                             handoff.c_str(), cost.c_str(), row.kernel_switches_per_rt,
                             row.user_switches_per_rt, row.verified ? "" : "  NOT VERIFIED");
    }
    out << "\n";
    for (auto& c : r.conclusions)
        out << "- " << c << "\n";
    out << "\nswitch cost (workload) = (round trip - the same IPC calls with nobody blocking) / 2; "
           "handoff = "
           "wakeup of one traced task by another until it runs; kernel sw cost = sched_switch -> "
           "end of "
           "__schedule in the next task. See docs/ctxswitch-trace.md.\n";
    return out.str();
}

nlohmann::json compare_json(const CompareResult& r) {
    nlohmann::json j;
    j["tool"] = "ctxswitch-trace compare";
    j["schema_version"] = 1;
    j["cpus"] = r.cpus;
    j["quick"] = r.quick;
    j["seconds"] = r.seconds;
    auto& rows = j["rows"] = nlohmann::json::array();
    for (auto& row : r.rows)
        rows.push_back({
            {"model", row.model},
            {"ipc", row.ipc},
            {"iterations", row.iterations},
            {"rtt_p50_ns", row.rtt_p50_ns},
            {"rtt_p99_ns", row.rtt_p99_ns},
            {"switch_cost_ns", row.switch_cost_ns},
            {"handoff_count", row.handoff_count},
            {"handoff_p50_ns", row.handoff_p50_ns},
            {"handoff_p99_ns", row.handoff_p99_ns},
            {"kernel_switch_cost_p50_ns", row.kernel_switch_cost_p50_ns},
            {"kernel_switches_per_rt", row.kernel_switches_per_rt},
            {"workload_kernel_switches_per_rt", row.workload_kernel_switches_per_rt},
            {"user_switches_per_rt", row.user_switches_per_rt},
            {"user_switches_source", row.user_switches_source},
            {"verified", row.verified},
        });
    j["conclusions"] = r.conclusions;
    return j;
}

std::string compare_svg(const CompareResult& r) {
    const int left = 190, right = 40, top = 60, row_h = 24, width = 980;
    const int plot_w = width - left - right;
    const int height = top + int(r.rows.size()) * row_h + 60;
    double lo = 1, hi = 10;
    for (auto& row : r.rows)
        hi = std::max(hi, row.rtt_p99_ns * 1.5);
    double decades_lo = 0, decades_hi = std::ceil(std::log10(hi));
    (void)lo;
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
      << "\" y=\"22\" font-size=\"15\" font-weight=\"bold\">Ping-pong round trip: p50 (bar) "
         "and p99 (whisker), log scale</text>\n";
    s << "<text x=\"" << left << "\" y=\"40\" fill=\"#555\">CPUs: " << r.cpus
      << ". Processes, threads and coroutines passing a token; measured by the workloads, traced "
         "by "
         "ctxswitch-trace.</text>\n";
    for (int d = int(decades_lo); d <= int(decades_hi); d++) {
        double px = x(std::pow(10.0, d));
        s << "<line x1=\"" << px << "\" y1=\"" << top - 6 << "\" x2=\"" << px << "\" y2=\""
          << top + int(r.rows.size()) * row_h << "\" stroke=\"#ddd\"/>\n";
        s << "<text x=\"" << px << "\" y=\"" << top + int(r.rows.size()) * row_h + 18
          << "\" text-anchor=\"middle\" fill=\"#555\">" << format_ns(std::pow(10.0, d))
          << "</text>\n";
    }
    int i = 0;
    for (auto& row : r.rows) {
        int y = top + i++ * row_h;
        std::string c = color.count(row.model) ? color[row.model] : "#888";
        double x50 = x(row.rtt_p50_ns), x99 = x(row.rtt_p99_ns);
        s << "<text x=\"" << left - 8 << "\" y=\"" << y + 15 << "\" text-anchor=\"end\">"
          << row.model << " / " << row.ipc << "</text>\n";
        s << "<rect x=\"" << left << "\" y=\"" << y + 4 << "\" width=\""
          << std::max(1.0, x50 - left) << "\" height=\"" << row_h - 8 << "\" fill=\"" << c
          << "\"><title>" << row.model << " over " << row.ipc << ": p50 "
          << format_ns(row.rtt_p50_ns) << ", p99 " << format_ns(row.rtt_p99_ns)
          << "</title></rect>\n";
        s << "<line x1=\"" << x50 << "\" y1=\"" << y + row_h / 2 << "\" x2=\"" << x99 << "\" y2=\""
          << y + row_h / 2 << "\" stroke=\"#333\"/>\n";
        s << "<line x1=\"" << x99 << "\" y1=\"" << y + 7 << "\" x2=\"" << x99 << "\" y2=\""
          << y + row_h - 7 << "\" stroke=\"#333\"/>\n";
        s << "<text x=\"" << x99 + 6 << "\" y=\"" << y + 15 << "\" fill=\"#333\">"
          << format_ns(row.rtt_p50_ns) << "</text>\n";
    }
    s << "</svg>\n";
    return s.str();
}

}  // namespace ctxswitch
