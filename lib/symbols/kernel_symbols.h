// Kernel function symbols from /proc/kallsyms (this kernel has no data symbols there, so
// kernel locks are named by the function that contended, not by the lock variable).
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace tk {

class KernelSymbols {
  public:
    // Reads /proc/kallsyms. Addresses are all zero without root (kptr_restrict): then
    // loaded() is false and lookups give hex addresses.
    static KernelSymbols load();
    // Parses kallsyms text (for tests).
    static KernelSymbols parse(std::istream& in);

    bool loaded() const { return !syms_.empty(); }
    // "mutex_lock+0x1a", "foo+0x10 [module]", or "0xffffffff81234567" when unknown.
    std::string describe(uint64_t address) const;
    // The function name alone ("" when unknown).
    std::string function(uint64_t address) const;

    // Whether FUNCTION (a name from function()) belongs to the tracing machinery that ran a
    // BPF program (bpf_*, __traceiter_*, perf_* ...): a kernel stack taken by a probe opens
    // with those frames, which say nothing of the code traced.
    static bool is_tracing_machinery(const std::string& function);

  private:
    struct Sym {
        uint64_t address;
        std::string name;
        std::string module;
    };
    const Sym* find(uint64_t address) const;
    std::vector<Sym> syms_;
};

}  // namespace tk
