// The `lock` label of a futex word: the variable it lies in (g_queue_lock,
// "Foo::instance_mutex+8 (libfoo.so.1)"), else the mapping ("[heap]+0x2a0"), as
// lockwait-trace names it (tk::name_address). The kernel side reports each new word's
// process (bpf/process_events.h); a tk::MapsWatcher reads its mappings at once, while it
// lives, and a word is named at the first scrape that sees it, once.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "maps_watcher.h"
#include "process_maps.h"
#include "probes.h"

namespace exporter {

class LockNames {
  public:
    explicit LockNames(int process_events_fd);
    // The name of every word of WORDS (by slot: a slot keeps its word); new ones are named
    // now, from the mappings captured for them.
    const std::string& name_of(const LockWord& word);
    // Before naming a scrape's new words: the reports queued so far are read.
    void catch_up();

  private:
    std::string name_now(const LockWord& word);
    tk::ProcessMaps maps_;
    tk::MapsWatcher watcher_;
    // the symbolizers of one scrape's naming (the libraries they open are not kept longer)
    std::optional<tk::SymbolizerCache> symbols_;
    std::map<uint32_t, std::string> by_slot_;
};

}  // namespace exporter
