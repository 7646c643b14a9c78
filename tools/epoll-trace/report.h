// epoll-trace's report: text for people, JSON for machines (schema in docs/epoll-trace.md).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "snapshot.h"

namespace epolltrace {

struct ReportOptions {
    int verbose = 0;  // -v: every histogram of every loop, every fd and waker, BPF run time
    size_t top = 5;   // fds and wakers shown per loop
    size_t max_threads = 20;
};

// The one-line verdict per family: how the loops wait (blocking vs busy polling, events
// per call, ready-to-return p50).
std::string summary_lines(const Snapshot& s);
std::string text_report(const Snapshot& s, const ReportOptions& opts);
nlohmann::json json_report(const Snapshot& s);

}  // namespace epolltrace
