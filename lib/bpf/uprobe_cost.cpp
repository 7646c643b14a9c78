#include "uprobe_cost.h"

#include <algorithm>
#include <chrono>
#include <vector>

namespace tk {

namespace {

double median_ns(const std::function<void()>& work, int rounds) {
    std::vector<double> ns;
    for (int r = 0; r < rounds; r++) {
        auto t0 = std::chrono::steady_clock::now();
        work();
        ns.push_back(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0)
                         .count());
    }
    std::sort(ns.begin(), ns.end());
    return ns[ns.size() / 2];
}

}  // namespace

double measure_uprobe_hit_ns(const std::function<void()>& work, int hits,
                             const std::function<bool()>& attach,
                             const std::function<void()>& detach, int rounds) {
    rounds = std::max(rounds, 1);
    double bare = median_ns(work, rounds);
    if (!attach())
        return 0;
    double probed = median_ns(work, rounds);
    detach();
    return std::max(0.0, (probed - bare) / hits);
}

}  // namespace tk
