// ctxswitch-trace's report: text for people, JSON for machines (docs/json-schema.md).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "snapshot.h"

namespace ctxswitch {

struct ReportOptions {
    int verbose = 0;
    size_t max_threads = 20;  // rows in the per-thread table (all with -v)
    size_t top_stacks = 10;   // --stacks entries shown (all with -v)
};

// The one line at the top comparing same-process and cross-process handoff latency.
std::string handoff_comparison(const Snapshot& s);
std::string text_report(const Snapshot& s, const ReportOptions& opts);
nlohmann::json json_report(const Snapshot& s);

}  // namespace ctxswitch
