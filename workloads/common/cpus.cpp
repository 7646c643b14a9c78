#include "common/cpus.h"

#include <sched.h>

#include <cctype>
#include <charconv>

#include "errors.h"

namespace wl {
namespace {

cpu_set_t allowed_set() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        throw tk::UserError(tk::errno_text("sched_getaffinity") + ": cannot read the CPU mask");
    return set;
}

int parse_cpu_number(std::string_view item, const std::string& whole) {
    int value = -1;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size() || value < 0)
        throw tk::UserError("--cpu " + whole + ": '" + std::string(item) +
                                "' is not a CPU number: use a list like 0,1 or 0-3",
                            2);
    return value;
}

}  // namespace

std::string allowed_cpus_text() {
    cpu_set_t set = allowed_set();
    std::string out;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &set))
            continue;
        int last = cpu;
        while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, &set))
            last++;
        if (!out.empty())
            out += ",";
        out += std::to_string(cpu);
        if (last > cpu)
            out += "-" + std::to_string(last);
        cpu = last;
    }
    return out;
}

CpuList CpuList::parse(const std::string& text) {
    CpuList list;
    std::string_view rest = text;
    if (rest.empty())
        throw tk::UserError(
            "--cpu needs a list like 0,1 or 0-3 (allowed here: " + allowed_cpus_text() + ")", 2);
    while (!rest.empty()) {
        auto comma = rest.find(',');
        std::string_view item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        if (comma != std::string_view::npos && rest.empty())
            throw tk::UserError("--cpu " + text + ": trailing comma: use a list like 0,1", 2);
        auto dash = item.find('-');
        int first = parse_cpu_number(item.substr(0, dash), text);
        int last =
            dash == std::string_view::npos ? first : parse_cpu_number(item.substr(dash + 1), text);
        if (last < first)
            throw tk::UserError("--cpu " + text + ": range " + std::string(item) +
                                    " runs backwards: write it low-high",
                                2);
        for (int cpu = first; cpu <= last; cpu++)
            list.cpus_.push_back(cpu);
    }
    cpu_set_t allowed = allowed_set();
    for (int cpu : list.cpus_)
        if (cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed))
            throw tk::UserError("--cpu " + text + ": CPU " + std::to_string(cpu) +
                                    " is not available to this process: pick from " +
                                    allowed_cpus_text(),
                                2);
    return list;
}

int CpuList::cpu_for(size_t index) const {
    return cpus_.empty() ? -1 : cpus_[index % cpus_.size()];
}

std::string CpuList::describe() const {
    if (cpus_.empty())
        return "unpinned";
    std::string out;
    for (int cpu : cpus_)
        out += (out.empty() ? "" : ",") + std::to_string(cpu);
    return out;
}

void CpuList::pin(size_t index) const {
    int cpu = cpu_for(index);
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0)
        throw tk::UserError(tk::errno_text("pinning to CPU " + std::to_string(cpu)) +
                            ": check --cpu against " + allowed_cpus_text());
}

}  // namespace wl
