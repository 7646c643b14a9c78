#include "lock_names.h"

#include "address_naming.h"

namespace exporter {

LockNames::LockNames(int process_events_fd)
    // the words report themselves: no need to read every process's mappings every second
    : watcher_(process_events_fd, maps_, {}, tk::MapsWatcher::Refresh::OnReportsOnly) {}

void LockNames::catch_up() {
    symbols_.reset();
    watcher_.drain();
}

const std::string& LockNames::name_of(const LockWord& word) {
    auto it = by_slot_.find(word.slot);
    if (it == by_slot_.end())
        it = by_slot_.emplace(word.slot, name_now(word)).first;
    return it->second;
}

std::string LockNames::name_now(const LockWord& word) {
    pid_t pid = pid_t(word.key.tgid);
    if (!symbols_)
        symbols_.emplace(maps_);
    std::shared_ptr<const std::vector<tk::Mapping>> maps;
    tk::NamingContext ctx = tk::naming_context(pid, maps_, *symbols_, maps);
    tk::LockName n = tk::name_address(word.key.uaddr, ctx);
    // an address only: one label value per word would be no name, and unbounded
    if (n.kind == tk::LockNameKind::Unknown)
        return "_unknown";
    // an anonymous mapping is named by its address range, which changes with every run
    // (a thread's stack, where its struct pthread lies, or a malloc arena): only the
    // offset into it is the program's, "[anon]+0x7ff990"
    const std::string anonymous = "anonymous mapping ";
    if (n.name.rfind(anonymous, 0) == 0) {
        size_t plus = n.name.rfind(" +");
        return "[anon]" + (plus == std::string::npos ? std::string() : n.name.substr(plus + 1));
    }
    return n.name;
}

}  // namespace exporter
