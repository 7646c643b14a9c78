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

}  // namespace

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
