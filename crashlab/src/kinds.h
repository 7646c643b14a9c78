// The crash kinds: one table shared by `crashlab list`, the victims, the classifier (the
// `class` values of the analysis JSON) and the tests. Keep the names stable: scripts and
// later checks match on them.
#pragma once

#include <span>
#include <string_view>

namespace crashlab {

struct KindInfo {
    std::string_view name;         // the `class` value
    std::string_view signal;       // what the kernel delivers (informational)
    std::string_view description;  // one line for `crashlab list`
    bool needs_timeout;            // never dies by itself: run it with --timeout
    bool triggered;                // a victim triggers it on purpose (false: analyser only)
};

// Every kind, victims' kinds first, then the two the analyser may conclude on its own.
std::span<const KindInfo> all_kinds();

// nullptr when NAME is not a kind.
const KindInfo* find_kind(std::string_view name);

}  // namespace crashlab
