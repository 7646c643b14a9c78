#include "common/rusage.h"

#include <sys/resource.h>

#include "errors.h"

namespace wl {
namespace {

Switches read(int who) {
    struct rusage ru {};
    if (getrusage(who, &ru) != 0)
        throw tk::UserError(tk::errno_text("getrusage"));
    return {uint64_t(ru.ru_nvcsw), uint64_t(ru.ru_nivcsw)};
}

double seconds(const struct timeval& tv) {
    return double(tv.tv_sec) + double(tv.tv_usec) / 1e6;
}

}  // namespace

Usage Usage::since(const Usage& e) const {
    Usage d;
    d.switches.voluntary = switches.voluntary - e.switches.voluntary;
    d.switches.involuntary = switches.involuntary - e.switches.involuntary;
    d.cpu_s = cpu_s - e.cpu_s;
    return d;
}

Usage workload_usage() {
    Usage u;
    for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
        struct rusage ru {};
        if (getrusage(who, &ru) != 0)
            throw tk::UserError(tk::errno_text("getrusage"));
        u.switches.voluntary += uint64_t(ru.ru_nvcsw);
        u.switches.involuntary += uint64_t(ru.ru_nivcsw);
        u.cpu_s += seconds(ru.ru_utime) + seconds(ru.ru_stime);
    }
    return u;
}

Switches self_switches() {
    return read(RUSAGE_SELF);
}
Switches children_switches() {
    return read(RUSAGE_CHILDREN);
}

Switches workload_switches() {
    Switches self = self_switches(), children = children_switches();
    return {self.voluntary + children.voluntary, self.involuntary + children.involuntary};
}

}  // namespace wl
