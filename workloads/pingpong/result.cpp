#include "pingpong/result.h"

#include <cstdio>

#include "common/json_output.h"

namespace pp {
namespace {

// tk::format_ns, with two decimals below 100 ns where coroutine figures live.
std::string fine_ns(double ns) {
    if (ns >= 100 || ns <= -100)
        return tk::format_ns(ns);
    char buf[32];
    snprintf(buf, sizeof buf, "%.2f ns", ns);
    return buf;
}

}  // namespace

bool Result::verified() const {
    bool count_ok = requested == 0 || iterations == requested;
    return iterations > 0 && count_ok && sent == iterations && echoed == iterations &&
           pong_received == iterations && mismatches == 0;
}

double Result::switch_cost_ns() const {
    return (rtt_ns(50) - baseline_ns()) / 2.0;
}

double Result::kernel_switches_per_rt() const {
    return iterations ? double(switches.total()) / double(iterations) : 0.0;
}

double Result::user_switches_per_rt() const {
    return iterations ? double(user_switches) / double(iterations) : 0.0;
}

nlohmann::json Result::to_json() const {
    nlohmann::json j;
    j["workload"] = "pingpong";
    j["schema_version"] = wl::kSchemaVersion;
    j["model"] = model_name(model);
    j["ipc"] = ipc;
    j["ipc_description"] = ipc_description;
    j["iterations"] = iterations;
    j["requested_iterations"] = requested ? nlohmann::json(requested) : nlohmann::json(nullptr);
    j["duration_s"] = duration_s ? nlohmann::json(duration_s) : nlohmann::json(nullptr);
    j["elapsed_s"] = elapsed_s;
    j["cpus"] = cpus;
    j["timing"] = timing;
    j["rtt"] = rtt.to_json();
    j["rtt_p50_ns"] = rtt_ns(50);
    j["rtt_p99_ns"] = rtt_ns(99);
    j["baseline"] = baseline.to_json();
    j["baseline_ns"] = baseline_ns();
    j["batch"] = batch;
    if (batch > 1) {
        j["rtt_batches"] = rtt_batches.to_json();
        j["baseline_batches"] = baseline_batches.to_json();
    }
    j["switch_cost_ns"] = switch_cost_ns();
    j["voluntary_switches"] = switches.voluntary;
    j["involuntary_switches"] = switches.involuntary;
    j["kernel_switches_per_rt"] = kernel_switches_per_rt();
    j["user_switches"] = user_switches;
    j["user_switches_per_rt"] = user_switches_per_rt();
    j["tokens"] = {{"sent", sent},
                   {"echoed", echoed},
                   {"pong_received", pong_received},
                   {"mismatched", mismatches}};
    j["verified"] = verified();
    return j;
}

std::string Result::to_text() const {
    std::string out;
    char line[512];
    snprintf(line, sizeof line, "pingpong: %s over %s (%s)\n", model_name(model), ipc.c_str(),
             ipc_description.c_str());
    out += line;
    snprintf(line, sizeof line, "  %llu round trips in %.3f s, CPUs: %s%s\n",
             (unsigned long long)iterations, elapsed_s, cpus.c_str(),
             cpus == "unpinned" ? "" : " (task i on LIST[i mod len]; ping is task 0)");
    out += line;
    out += "\n" + rtt.render("round trip (" + timing + ")");
    snprintf(line, sizeof line,
             "\nbaseline, the same IPC calls with nobody blocking: p50 %s\n"
             "switch cost estimate: (round trip p50 %s - baseline %s) / 2 = %s\n",
             fine_ns(baseline_ns()).c_str(), fine_ns(rtt_ns(50)).c_str(),
             fine_ns(baseline_ns()).c_str(), fine_ns(switch_cost_ns()).c_str());
    out += line;
    snprintf(line, sizeof line,
             "context switches (getrusage, whole workload): %llu voluntary, %llu involuntary "
             "= %.2f kernel switches per round trip; user-level switches: %.2f per round trip\n",
             (unsigned long long)switches.voluntary, (unsigned long long)switches.involuntary,
             kernel_switches_per_rt(), user_switches_per_rt());
    out += line;
    snprintf(line, sizeof line,
             "verified: %s (%llu tokens sent, %llu echoed back unchanged, %llu received in "
             "sequence by the partner, %llu out of sequence%s)\n",
             verified() ? "yes" : "NO", (unsigned long long)sent, (unsigned long long)echoed,
             (unsigned long long)pong_received, (unsigned long long)mismatches,
             requested ? (", " + std::to_string(requested) + " requested").c_str() : "");
    out += line;
    return out;
}

}  // namespace pp
