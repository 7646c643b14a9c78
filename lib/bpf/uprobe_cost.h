// What one uprobe hit costs on this machine, measured on the spot: the tracers that offer
// uprobes (ctxswitch-trace --user-switch, lockwait-trace --uprobes) print it beside their
// counts, since it is far above a tracepoint's cost and varies with the probed instruction.
#pragma once

#include <functional>

namespace tk {

// Times WORK, which makes HITS hits of the probes each time it runs, ROUNDS times bare, then
// ROUNDS times with the probes that ATTACH puts on (false: they could not be; 0 is
// returned), then DETACH takes them off. The difference of the two medians, per hit, in
// nanoseconds (0 when it comes out negative).
//
// Bare rounds first and one attachment for all probed rounds, rather than attach and detach
// around each round: every uprobe link waits for a grace period (tens of ms here) when it
// comes off, which a round trip per round would pay each time, and the medians already
// absorb a round that the machine disturbed.
double measure_uprobe_hit_ns(const std::function<void()>& work, int hits,
                             const std::function<bool()>& attach,
                             const std::function<void()>& detach, int rounds = 3);

}  // namespace tk
