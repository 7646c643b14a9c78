#include "probes.h"

#include <unistd.h>

#include "elf_symbols.h"
#include "errors.h"
#include "proc.h"

namespace lockwait {

Probes::Probes(const tk::TraceOptions& opts, const Features& features, const Limits& limits)
    : tracer_(opts, features, limits), own_libc_(libc_of(getpid())) {
    if (features.uprobes)
        uprobes_ = std::make_unique<Uprobes>(tracer_.skeleton(), tracer_.features().uprobe_multi);
    // Processes the workload starts get their uprobes when the kernel side reports them:
    // their first calls may come before.
    watcher_ = std::make_unique<tk::MapsWatcher>(tracer_.events_fd(), maps_,
                                                 [this](pid_t pid, bool execed) {
                                                     if (!uprobes_)
                                                         return;
                                                     // right after exec the libraries are not
                                                     // mapped yet: probe the libc we use, which the
                                                     // kernel arms once the dynamic loader maps it
                                                     if (execed)
                                                         uprobes_->attach(pid, own_libc_);
                                                     uprobes_->attach_if_new(pid);
                                                 });
}

Probes::~Probes() = default;

size_t Probes::trace_process(pid_t pid) {
    size_t threads = tracer_.trace_process(pid);
    maps_.capture(pid);
    attach_uprobes(pid);
    return threads;
}

void Probes::trace_thread(pid_t tid) {
    tracer_.trace_thread(tid);
    pid_t pid = tk::tgid_of(tid).value_or(tid);
    maps_.capture(pid);
    attach_uprobes(pid);
}

void Probes::trace_launched(pid_t pid) {
    if (!uprobes_)
        return;
    tk::Status st = uprobes_->attach(pid, own_libc_);
    if (!st)
        throw tk::UserError(st.message());
}

void Probes::attach_uprobes(pid_t pid) {
    if (!uprobes_)
        return;
    std::string libc = libc_of(pid);
    if (libc.empty())
        throw tk::UserError("pid " + std::to_string(pid) +
                            " has no libc.so.6 mapped (statically linked?): --uprobes cannot "
                            "probe it; drop --uprobes");
    tk::Status st = uprobes_->attach(pid, libc);
    if (!st)
        throw tk::UserError(st.message());
}

void Probes::stop_recording() {
    if (uprobes_)
        uprobes_->detach_all();
    tracer_.stop_recording();
}

Snapshot Probes::snapshot() {
    watcher_->drain();
    return tracer_.snapshot();
}

UprobeCost Probes::uprobe_cost() {
    return uprobes_ ? uprobes_->calibrate(own_libc_) : UprobeCost{};
}

}  // namespace lockwait
