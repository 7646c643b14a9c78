#include "exposition.h"

#include <bitset>
#include <charconv>

#include "hist.h"
#include "text.h"

namespace exporter {

namespace {

constexpr uint64_t kInf = UINT64_MAX;

// Where the coarse buckets begin and end: the kernel's buckets between two powers of two.
uint32_t group_top(uint32_t b, Buckets mode) {
    if (mode == Buckets::Exact)
        return b;
    if (b < HIST_SUB)
        return b == 0 ? 0 : b == 1 ? 1 : b <= 3 ? 3 : 7;
    return b | (HIST_SUB - 1);
}

uint32_t group_bottom(uint32_t b, Buckets mode) {
    if (mode == Buckets::Exact)
        return b;
    if (b < HIST_SUB)
        return b <= 1 ? b : b <= 3 ? 2 : 4;
    return b & ~uint32_t(HIST_SUB - 1);
}

// The inclusive upper edge of bucket b in ns (+Inf for the last).
uint64_t upper_edge(uint32_t b) {
    if (b + 1 >= HIST_BUCKETS)
        return kInf;
    return hist_bucket_low(b + 1) - 1;
}

// Decodes one UTF-8 sequence at s[i]; its length, or 0 when it is not valid UTF-8.
size_t utf8_length(const std::string& s, size_t i) {
    auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = byte(i);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size())
        return 0;
    uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
    for (size_t k = 1; k < n; k++) {
        if ((byte(i + k) & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;  // overlong, beyond Unicode, or a surrogate
    return n;
}

struct Labels {
    std::string text;  // `cgroup="...",comm="..."` without braces

    Labels with(const std::string& name, const std::string& value) const {
        Labels l{text};
        if (!l.text.empty())
            l.text += ',';
        l.text += name + "=\"" + label_value(value) + '"';
        return l;
    }
    std::string braces() const { return text.empty() ? "" : "{" + text + "}"; }
};

// What a histogram's values are: nanoseconds (written in seconds), or counts.
enum class Unit { Seconds, Count };

// V in the shortest form that reads back the same (std::to_chars), appended to OUT: every
// number of the exposition is written so.
template <typename T>
void append_number(std::string& out, T v) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

double in_seconds(uint64_t ns) {
    return double(ns) / 1e9;
}

// Appends to one string, without a temporary string per sample: a scrape of a thousand
// series writes a hundred thousand and more of them.
class Writer {
  public:
    explicit Writer(std::string& out) : out_(out) { out_.clear(); }

    void header(const std::string& name, const char* type, const char* help) {
        out_.append("# HELP ").append(name).append(1, ' ').append(help);
        out_.append("\n# TYPE ").append(name).append(1, ' ').append(type).append(1, '\n');
    }
    void sample(const std::string& name, const Labels& labels, const std::string& value) {
        begin(name, labels);
        end(value);
    }
    void sample(const std::string& name, const Labels& labels, uint64_t value) {
        begin(name, labels);
        end(value);
    }
    void histogram(const std::string& name, const Labels& labels, const exp_hist& h, Buckets mode,
                   Unit unit = Unit::Seconds) {
        auto edges = histogram_edges(h, mode);
        const std::string bucket = name + "_bucket";
        for (const Edge& e : edges) {
            out_.append(bucket).append(1, '{').append(labels.text);
            out_.append(labels.text.empty() ? "le=\"" : ",le=\"");
            if (e.le_ns == kInf)
                out_.append("+Inf");
            else
                append_value(e.le_ns, unit);
            out_.append("\"} ");
            end(e.cumulative);
        }
        begin(name + "_sum", labels);
        append_value(h.sum, unit);
        out_.append(1, '\n');
        sample(name + "_count", labels, edges.back().cumulative);
    }

  private:
    void begin(const std::string& name, const Labels& labels) {
        out_.append(name);
        if (!labels.text.empty())
            out_.append(1, '{').append(labels.text).append(1, '}');
        out_.append(1, ' ');
    }
    void end(const std::string& value) { out_.append(value).append(1, '\n'); }
    void end(uint64_t value) {
        append_number(out_, value);
        out_.append(1, '\n');
    }
    void append_value(uint64_t v, Unit unit) {
        if (unit == Unit::Count)
            append_number(out_, v);
        else
            append_number(out_, in_seconds(v));
    }

    std::string& out_;
};

bool any_data(const exp_hist& h) {
    for (uint64_t c : h.buckets)
        if (c)
            return true;
    return false;
}

std::string double_text(double v) {
    std::string text;
    append_number(text, v);
    return text;
}

}  // namespace

const char* kernel_lock_kind_name(int kind) {
    static constexpr const char* kNames[EXP_KLOCK_KINDS] = {
        "spinlock",    "rwlock_read",       "rwlock_write",       "mutex",    "rwsem_read",
        "rwsem_write", "percpu_rwsem_read", "percpu_rwsem_write", "rt_mutex", "other"};
    return kind >= 0 && kind < EXP_KLOCK_KINDS ? kNames[kind] : "other";
}

std::string label_value(const std::string& raw) {
    std::string out;
    out.reserve(raw.size());
    for (size_t i = 0; i < raw.size();) {
        size_t n = utf8_length(raw, i);
        if (n == 0) {
            out += "\xEF\xBF\xBD";  // U+FFFD
            i++;
            continue;
        }
        char c = raw[i];
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out.append(raw, i, n);
        i += n;
    }
    return out;
}

std::string seconds_text(uint64_t ns) {
    return double_text(in_seconds(ns));
}

std::vector<Edge> histogram_edges(const exp_hist& h, Buckets mode) {
    std::bitset<HIST_BUCKETS> tops;  // the buckets whose upper edges are written
    for (uint32_t b = 0; b < HIST_BUCKETS; b++) {
        if (!h.buckets[b])
            continue;
        tops.set(group_top(b, mode));
        uint32_t bottom = group_bottom(b, mode);
        if (bottom > 0)
            tops.set(bottom - 1);
    }
    std::vector<Edge> edges;
    uint64_t cumulative = 0;
    uint32_t next = 0;
    for (uint32_t top = 0; top < HIST_BUCKETS; top++) {
        if (!tops.test(top))
            continue;
        for (; next <= top; next++)
            cumulative += h.buckets[next];
        if (upper_edge(top) != kInf)
            edges.push_back({upper_edge(top), cumulative});
    }
    for (; next < HIST_BUCKETS; next++)
        cumulative += h.buckets[next];
    edges.push_back({kInf, cumulative});
    return edges;
}

std::string exposition(const Snapshot& snap, const ExpositionOptions& opts) {
    std::string out;
    write_exposition(snap, opts, out);
    return out;
}

void write_exposition(const Snapshot& snap, const ExpositionOptions& opts, std::string& out) {
    Writer w(out);
    // each series' labels, escaped once for all its samples
    std::vector<Labels> labels_of;
    labels_of.reserve(snap.series.size());
    for (const Series& s : snap.series) {
        if (s.overflow) {
            labels_of.push_back(
                Labels{}.with("cgroup", kOverflowLabel).with("comm", kOverflowLabel));
            continue;
        }
        auto path = snap.cgroup_paths.find(s.cgroup_id);
        std::string cgroup = path != snap.cgroup_paths.end()
                                 ? path->second
                                 : "cgroup id " + std::to_string(s.cgroup_id);
        labels_of.push_back(Labels{}.with("cgroup", cgroup).with("comm", s.comm));
    }
    auto series_labels = [&](const Series& s) -> const Labels& {
        return labels_of[size_t(&s - snap.series.data())];
    };

    w.header("concurrency_context_switches_total", "counter",
             "Context switches out of the series' tasks, by kind: voluntary (asleep) or "
             "involuntary (preempted while runnable).");
    for (const Series& s : snap.series) {
        const Labels& l = series_labels(s);
        w.sample("concurrency_context_switches_total", l.with("kind", "voluntary"),
                 s.counters[EXP_SC_VOLUNTARY]);
        w.sample("concurrency_context_switches_total", l.with("kind", "involuntary"),
                 s.counters[EXP_SC_INVOLUNTARY]);
    }
    w.header("concurrency_migrations_total", "counter",
             "Migrations of the series' tasks to another CPU.");
    for (const Series& s : snap.series)
        w.sample("concurrency_migrations_total", series_labels(s), s.counters[EXP_SC_MIGRATIONS]);

    static constexpr const char* kPollFamilies[EXP_POLL_FAMILIES] = {"epoll", "poll", "select"};
    w.header("concurrency_poll_calls_total", "counter",
             "Waiting calls (epoll_wait, epoll_pwait(2), poll, ppoll, select, pselect6) of the "
             "series' tasks that returned, by family: epoll, poll (poll, ppoll), select "
             "(select, pselect6); result ok or error (EINTR and the like).");
    for (const Series& s : snap.series) {
        const Labels& l = series_labels(s);
        for (int f = 0; f < EXP_POLL_FAMILIES; f++) {
            uint64_t ok = s.counters[size_t(EXP_SC_POLL_CALLS + f)];
            uint64_t failed = s.counters[size_t(EXP_SC_POLL_ERRORS + f)];
            if (!ok && !failed)
                continue;  // most series never wait so
            Labels fl = l.with("family", kPollFamilies[f]);
            w.sample("concurrency_poll_calls_total", fl.with("result", "ok"), ok);
            w.sample("concurrency_poll_calls_total", fl.with("result", "error"), failed);
        }
    }

    // one histogram per family of waiting calls, at ids BASE + EXP_POLL_*
    auto by_family = [](int base) {
        std::vector<std::pair<int, const char*>> members;
        for (int f = 0; f < EXP_POLL_FAMILIES; f++)
            members.emplace_back(base + f, kPollFamilies[f]);
        return members;
    };
    struct HistogramFamily {
        const char* name;
        const char* help;
        const char* label;  // the label telling the family's histograms apart, or null
        std::vector<std::pair<int, const char*>> members;
        Unit unit;
    };
    const HistogramFamily families[] = {
        {"concurrency_switch_cost_seconds",
         "In-kernel cost of the context switches into the series' tasks (sched_switch to "
         "sched_exit_tp), by kind: thread (same mm), process (other mm), kernel (to or "
         "from a kernel thread or idle).",
         "kind",
         {{EXP_H_SWITCH_COST + EXP_KIND_THREAD, "thread"},
          {EXP_H_SWITCH_COST + EXP_KIND_PROCESS, "process"},
          {EXP_H_SWITCH_COST + EXP_KIND_KERNEL, "kernel"}},
         Unit::Seconds},
        {"concurrency_wakeup_to_run_seconds",
         "Wakeup-to-run latency of the series' tasks: woken or preempted while runnable, to "
         "running.",
         nullptr,
         {{EXP_H_WAKEUP_TO_RUN, ""}},
         Unit::Seconds},
        {"concurrency_handoff_seconds",
         "Handoff latency: a user task woke one of the series' tasks, which then ran; by "
         "whether the waker is of the same process.",
         "waker",
         {{EXP_H_HANDOFF_SAME, "same_process"}, {EXP_H_HANDOFF_CROSS, "other_process"}},
         Unit::Seconds},
        {"concurrency_poll_blocked_seconds",
         "Blocked time of the waiting calls (epoll_wait, poll, select and variants) that "
         "slept: their time asleep, not the whole call; by family (epoll, poll, select).",
         "family", by_family(EXP_H_POLL_BLOCKED), Unit::Seconds},
        {"concurrency_poll_ready_to_return_seconds",
         "Ready-to-return latency of the waiting calls that returned events: from the "
         "waiter's last wakeup inside the call to the call's return; by family.",
         "family", by_family(EXP_H_POLL_READY_TO_RETURN), Unit::Seconds},
        {"concurrency_poll_events_per_call",
         "Events (ready file descriptors) each waiting call returned; calls that failed are "
         "not observed; by family.",
         "family", by_family(EXP_H_POLL_EVENTS), Unit::Count},
    };
    for (const auto& f : families) {
        w.header(f.name, "histogram", f.help);
        for (const Series& s : snap.series) {
            if (!s.hists)
                continue;
            const Labels& l = series_labels(s);
            for (const auto& [id, value] : f.members) {
                const exp_hist h = s.hists[id];  // one reading of a histogram still growing
                if (any_data(h))
                    w.histogram(f.name, f.label ? l.with(f.label, value) : l, h, opts.buckets,
                                f.unit);
            }
        }
    }

    w.header("concurrency_kernel_lock_wait_seconds", "histogram",
             "Kernel lock contention, machine-wide (lock:contention_begin to contention_end "
             "in one task), by the kind of lock.");
    for (int k = 0; k < EXP_KLOCK_KINDS; k++)
        if (any_data(snap.kernel_locks[size_t(k)]))
            w.histogram("concurrency_kernel_lock_wait_seconds",
                        Labels{}.with("kind", kernel_lock_kind_name(k)),
                        snap.kernel_locks[size_t(k)], opts.buckets);

    if (snap.futex_probes) {
        w.header("concurrency_futex_blocked_seconds", "histogram",
                 "Time asleep in futex waits (one observation per sleep), by "
                 "futex word: the top --top-locks words by blocked time over the last "
                 "--lock-window, named by the variable or mapping they lie in; the rest in "
                 "lock=\"_other\".");
        for (const LockSeries& l : snap.locks) {
            if (!any_data(l.blocked))
                continue;
            Labels labels;
            if (l.other) {
                labels = Labels{}
                             .with("cgroup", kOtherLockLabel)
                             .with("comm", kOtherLockLabel)
                             .with("lock", kOtherLockLabel);
            } else {
                auto path = snap.cgroup_paths.find(l.cgroup_id);
                labels = Labels{}
                             .with("cgroup", path != snap.cgroup_paths.end()
                                                 ? path->second
                                                 : "cgroup id " + std::to_string(l.cgroup_id))
                             .with("comm", l.comm)
                             .with("lock", l.lock);
            }
            w.histogram("concurrency_futex_blocked_seconds", labels, l.blocked, opts.buckets);
        }
    }

    w.header("concurrency_exporter_series", "gauge",
             "Series (cgroup, comm pairs) in the kernel's table.");
    w.sample("concurrency_exporter_series", {}, snap.series_used);
    w.header("concurrency_exporter_series_limit", "gauge",
             "Size of the series table (--max-series); the rest is folded into the "
             "_overflow series.");
    w.sample("concurrency_exporter_series_limit", {}, snap.series_limit);
    w.header("concurrency_exporter_folded_total", "counter",
             "Tasks whose series found the table full and were counted in the _overflow "
             "series instead.");
    w.sample("concurrency_exporter_folded_total", {}, snap.totals[EXP_C_FOLDED]);
    w.header("concurrency_exporter_dropped_total", "counter",
             "What the kernel side could not record, by reason.");
    w.sample("concurrency_exporter_dropped_total", Labels{}.with("reason", "task_state"),
             snap.totals[EXP_C_DROP_STORAGE]);
    w.sample("concurrency_exporter_dropped_total", Labels{}.with("reason", "lost_slot"),
             snap.totals[EXP_C_SLOT_RACES]);
    w.sample("concurrency_exporter_dropped_total", Labels{}.with("reason", "switch_cost_unmatched"),
             snap.totals[EXP_C_COST_UNMATCHED]);
    w.sample("concurrency_exporter_dropped_total", Labels{}.with("reason", "lost_lock_slot"),
             snap.totals[EXP_C_LOCK_RACES]);
    w.sample("concurrency_exporter_dropped_total", Labels{}.with("reason", "process_report"),
             snap.totals[EXP_C_DROP_EVENTS]);
    if (snap.futex_probes) {
        w.header("concurrency_exporter_lock_words", "gauge",
                 "Futex words in the kernel's table (each seen blocking once at least).");
        w.sample("concurrency_exporter_lock_words", {}, snap.lock_words);
        w.header("concurrency_exporter_lock_words_limit", "gauge",
                 "Size of the futex word table (--max-locks); blocked waits on words that find "
                 "it full go to lock=\"_other\".");
        w.sample("concurrency_exporter_lock_words_limit", {}, snap.lock_words_limit);
        w.header("concurrency_exporter_lock_words_folded_total", "counter",
                 "Blocked futex waits whose word found the table full.");
        w.sample("concurrency_exporter_lock_words_folded_total", {},
                 snap.totals[EXP_C_LOCKS_FOLDED]);
        w.header("concurrency_exporter_top_locks", "gauge",
                 "Futex words exported as series of their own (--top-locks).");
        w.sample("concurrency_exporter_top_locks", {}, snap.top_locks);
    }
    w.header("concurrency_exporter_bpf_stats_enabled", "gauge",
             "1 when the kernel counts BPF run time (kernel.bpf_stats_enabled), else 0 and "
             "the run figures below stay 0.");
    w.sample("concurrency_exporter_bpf_stats_enabled", {}, snap.bpf_stats ? 1 : 0);
    w.header("concurrency_exporter_bpf_runs_total", "counter",
             "Runs of each of the exporter's BPF programs (events handled).");
    for (const auto& p : snap.programs)
        w.sample("concurrency_exporter_bpf_runs_total", Labels{}.with("program", p.program),
                 p.runs);
    w.header("concurrency_exporter_bpf_run_seconds_total", "counter",
             "CPU time spent in each of the exporter's BPF programs.");
    for (const auto& p : snap.programs)
        w.sample("concurrency_exporter_bpf_run_seconds_total", Labels{}.with("program", p.program),
                 seconds_text(p.run_time_ns));
    w.header("concurrency_exporter_scrapes_total", "counter",
             "Expositions made, this one included.");
    w.sample("concurrency_exporter_scrapes_total", {}, snap.scrapes);
    // (not process_cpu_seconds_total and friends: node_exporter, which reads --textfile,
    // has those of its own and refuses a second family of the same name)
    w.header("concurrency_exporter_cpu_seconds_total", "counter",
             "User and system CPU time of the exporter process.");
    w.sample("concurrency_exporter_cpu_seconds_total", {}, double_text(snap.process_cpu_seconds));
    w.header("concurrency_exporter_resident_memory_bytes", "gauge",
             "Resident memory of the exporter process.");
    w.sample("concurrency_exporter_resident_memory_bytes", {}, snap.resident_bytes);
}

}  // namespace exporter
