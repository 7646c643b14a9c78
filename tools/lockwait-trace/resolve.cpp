#include "resolve.h"

#include <pthread.h>

#include <algorithm>
#include <map>
#include <set>

#include "address_naming.h"
#include "evidence.h"
#include "proc.h"
#include "text.h"

namespace lockwait {

using tk::base_name;
using tk::hex;

namespace {

using LockId = std::pair<uint32_t, uint64_t>;  // (pid, address)

std::vector<Frame> user_frames(tk::Symbolizer* sym, const std::vector<uint64_t>& ips) {
    std::vector<Frame> out;
    for (size_t i = 0; i < ips.size(); i++) {
        Frame base;
        base.address = ips[i];
        if (!sym) {
            out.push_back(base);
            continue;
        }
        tk::Symbol s = sym->symbolize(ips[i], i > 0);
        base.module = base_name(s.module);
        base.module_offset = s.module_offset;
        if (s.frames.empty()) {
            base.function = s.symbol;
            out.push_back(base);
            continue;
        }
        for (const auto& f : s.frames) {
            Frame fr = base;
            fr.function = f.function;
            fr.file = f.file;
            fr.line = f.line;
            fr.inlined = f.inlined;
            out.push_back(fr);
        }
    }
    return out;
}

std::vector<Frame> kernel_frames(const tk::KernelSymbols* ksyms, const std::vector<uint64_t>& ips) {
    std::vector<Frame> out;
    for (uint64_t ip : ips) {
        Frame f;
        f.address = ip;
        f.module = "[kernel]";
        if (ksyms)
            f.function = ksyms->describe(ip);
        out.push_back(f);
    }
    // the tracing machinery that ran the probe comes first: drop it
    auto machinery = [&](const Frame& f) {
        return ksyms && tk::KernelSymbols::is_tracing_machinery(ksyms->function(f.address));
    };
    size_t skip = 0;
    while (skip < out.size() && machinery(out[skip]))
        skip++;
    if (skip < out.size())
        out.erase(out.begin(), out.begin() + long(skip));
    return out;
}

const char* ulock_kind_name(uint32_t kind) {
    switch (kind) {
        case LW_U_MUTEX:
            return "mutex";
        case LW_U_RWLOCK_READ:
            return "rwlock (read)";
        case LW_U_RWLOCK_WRITE:
            return "rwlock (write)";
        case LW_U_COND:
            return "cond";
        default:
            return "?";
    }
}

}  // namespace

void count_unnamed_frames(const std::vector<Frame>& frames, std::map<std::string, size_t>& counts) {
    for (const Frame& f : frames)
        if (f.function.empty() && !f.module.empty() && f.module != "[kernel]")
            counts[f.module]++;
}

std::string unnamed_frames_note(const std::map<std::string, size_t>& counts) {
    if (counts.empty())
        return "";
    size_t total = 0;
    std::string modules;
    bool libc = false;
    for (const auto& [module, n] : counts) {
        total += n;
        modules += (modules.empty() ? "" : ", ") + module + " (" + std::to_string(n) + ")";
        libc |= module.rfind("libc.so", 0) == 0;
    }
    // Debian's C library exports few of its internal functions (__lll_lock_wait is not one):
    // their names are in its debug symbols only.
    return std::to_string(total) + " frames have no function name, in " + modules +
           ": their debug symbols are not installed" +
           (libc ? "; for libc.so.6 install libc6-dbg (Debian), which names its internal "
                   "functions such as __lll_lock_wait"
                 : "; install the module's -dbg or -dbgsym package for names");
}

bool reaches_entry_point(const std::vector<Frame>& frames) {
    static const std::set<std::string> entries = {"_start",
                                                  "__libc_start_main",
                                                  "__libc_start_call_main",
                                                  "start_thread",
                                                  "clone",
                                                  "clone3",
                                                  "__clone",
                                                  "__clone3",
                                                  "__GI___clone3",
                                                  "__GI___clone",
                                                  "thread_start"};
    for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
        std::string fn = it->function.substr(0, it->function.find('('));
        if (entries.count(fn))
            return true;
        if (!it->inlined)
            break;  // only the outermost machine frame (and its inlines) counts
    }
    return false;
}

std::string kernel_lock_site(const std::vector<Frame>& frames) {
    // the lock implementations (spinlocks, mutexes, rwsems, rt-mutexes and their slow paths)
    static const char* locking[] = {"_raw_",
                                    "__raw_",
                                    "raw_spin_",
                                    "do_raw_",
                                    "queued_",
                                    "__pv_queued",
                                    "native_queued",
                                    "mutex_lock",
                                    "__mutex_lock",
                                    "mutex_spin",
                                    "mutex_optimistic",
                                    "__mutex_",
                                    "rwsem_",
                                    "__rwsem",
                                    "down_",
                                    "__down",
                                    "osq_",
                                    "rt_mutex",
                                    "__rt_mutex",
                                    "rt_spin",
                                    "percpu_down",
                                    "__percpu_down",
                                    "_raw_spin_rq",
                                    "lock_acquire"};
    for (const auto& f : frames) {
        std::string fn = f.function.substr(0, f.function.find('+'));
        bool inside = fn.empty() || fn[0] == '0';
        for (const char* l : locking)
            inside |= fn.rfind(l, 0) == 0;
        if (!inside)
            return f.function;
    }
    return frames.empty() ? "" : frames.back().function;
}

namespace {

// The comm of TID as the snapshot saw it, "" when it did not.
const std::string& comm_at(const std::map<uint32_t, std::string>& comm_of_tid, uint32_t tid) {
    static const std::string none;
    auto it = comm_of_tid.find(tid);
    return it == comm_of_tid.end() ? none : it->second;
}

using LockMap = std::map<LockId, Lock>;

// Names every futex word once (its symbol, or the mapping it lies in, or the thread stack
// it is on), from the process's mappings and symbols as captured.
class LockNamer {
  public:
    LockNamer(const Snapshot& snap, tk::ProcessMaps& maps, tk::SymbolizerCache& symbols)
        : maps_(maps), symbols_(symbols) {
        for (const auto& t : snap.threads)
            if (t.stats.user_sp)
                sps_[t.stats.pid][t.stats.tid] = t.stats.user_sp;
    }

    const tk::LockName& name(uint32_t pid, uint64_t address) {
        auto it = names_.find({pid, address});
        if (it != names_.end())
            return it->second;
        std::shared_ptr<const std::vector<tk::Mapping>> m;
        tk::NamingContext ctx = tk::naming_context(pid_t(pid), maps_, symbols_, m);
        ctx.thread_sps = sps_[pid];
        return names_.emplace(LockId{pid, address}, tk::name_address(address, ctx)).first->second;
    }

  private:
    tk::ProcessMaps& maps_;
    tk::SymbolizerCache& symbols_;
    std::map<uint32_t, std::map<uint32_t, uint64_t>> sps_;  // pid -> tid -> sp
    std::map<LockId, tk::LockName> names_;
};

// The snapshot's totals, threads and probes, as they are.
void copy_run(const Snapshot& snap, const tk::ProcessMaps& maps, const ResolveOptions& opts,
              Report& r) {
    r.probe_mode = snap.probe_mode;
    r.counters = snap.counters;
    r.calls = snap.calls;
    r.hists = snap.hists;
    r.threads = snap.threads;
    r.probes = snap.probes;
    r.program_stats = snap.program_stats;
    for (auto& w : snap.warnings)
        r.warnings.push_back(w);
    r.stacks_enabled = opts.stacks;
    r.kernel_locks_enabled = opts.kernel_locks;
    r.uprobes_enabled = opts.uprobes;
    r.maps_captured = maps.captures();
}

// X's flags, counts and histograms added to L's: X is a kernel row (lw_lock_row) or another
// Lock, whose fields have the same names.
template <class Counts>
void add_counts(Lock& l, const Counts& x) {
    l.flags |= x.flags;
    l.ops_seen |= x.ops_seen;
    l.waits += x.waits;
    l.blocked += x.blocked;
    l.blocked_ns += x.blocked_ns;
    l.wait_ns += x.wait_ns;
    for (size_t i = 0; i < LW_OUTCOMES; i++)
        l.outcome[i] += x.outcome[i];
    l.handoffs += x.handoffs;
    l.handoff_ns += x.handoff_ns;
    l.wakes += x.wakes;
    l.woken += x.woken;
    l.requeued += x.requeued;
    l.other_calls += x.other_calls;
    l.h_blocked.merge(x.h_blocked);
    l.h_wait.merge(x.h_wait);
    l.h_handoff.merge(x.h_handoff);
}

// Locks: the (word, thread) rows of every thread added up, each thread a waiter.
LockMap merge_lock_rows(const Snapshot& snap, const std::map<uint32_t, std::string>& comm_of_tid) {
    LockMap locks;
    for (const auto& row : snap.locks) {
        LockId id{row.key.pid, row.key.uaddr};
        Lock& l = locks[id];
        const auto& x = row.row;
        l.pid = row.key.pid;
        l.address = row.key.uaddr;
        add_counts(l, x);
        for (size_t i = 0; i < LW_OWNERS; i++)
            if (x.owner_tid[i])
                l.owner_blocked[x.owner_tid[i]] += x.owner_blocked[i];
        if (x.waits) {
            Waiter w;
            w.tid = row.key.tid;
            w.comm = comm_at(comm_of_tid, row.key.tid);
            w.waits = x.waits;
            w.blocked = x.blocked;
            w.blocked_ns = x.blocked_ns;
            l.waiters.push_back(w);
        }
    }
    return locks;
}

// Who woke whom on each lock.
void add_wakers(const Snapshot& snap, const std::map<uint32_t, std::string>& comm_of_tid,
                LockMap& locks) {
    for (const auto& w : snap.wakers) {
        auto it = locks.find({w.key.pid, w.key.uaddr});
        if (it == locks.end())
            continue;
        WakerPair p;
        p.waiter_tid = w.key.waiter_tid;
        p.waker_tid = w.key.waker_tid;
        p.waker_pid = w.key.waker_pid;
        p.waiter_comm = comm_at(comm_of_tid, w.key.waiter_tid);
        p.waker_comm.assign(w.row.waker_comm, strnlen(w.row.waker_comm, sizeof w.row.waker_comm));
        p.count = w.row.count;
        p.handoffs = w.row.handoffs;
        p.handoff_ns = w.row.handoff_ns;
        p.by_futex_wake = w.row.by_futex_wake;
        it->second.wakers.push_back(p);
    }
}

// Named, their waiters and wakers sorted, the locks by blocked time.
// A lock's waiters by blocked time, its wakers by count.
void sort_waiters_and_wakers(Lock& l) {
    std::sort(l.waiters.begin(), l.waiters.end(), [](const Waiter& a, const Waiter& b) {
        return a.blocked_ns != b.blocked_ns ? a.blocked_ns > b.blocked_ns : a.tid < b.tid;
    });
    std::sort(l.wakers.begin(), l.wakers.end(), [](const WakerPair& a, const WakerPair& b) {
        return a.count != b.count ? a.count > b.count : a.waker_tid < b.waker_tid;
    });
}

// The locks by blocked time, then by calls.
void sort_locks(std::vector<Lock>& locks) {
    std::sort(locks.begin(), locks.end(), [](const Lock& a, const Lock& b) {
        if (a.blocked_ns != b.blocked_ns)
            return a.blocked_ns > b.blocked_ns;
        if (a.waits + a.wakes != b.waits + b.wakes)
            return a.waits + a.wakes > b.waits + b.wakes;
        return std::make_pair(a.pid, a.address) < std::make_pair(b.pid, b.address);
    });
}

void rank_locks(LockMap& locks, LockNamer& namer, Report& r) {
    for (auto& [id, l] : locks) {
        const tk::LockName& n = namer.name(id.first, id.second);
        l.name = n.name;
        l.name_kind = n.kind;
        sort_waiters_and_wakers(l);
        r.locks.push_back(std::move(l));
    }
    sort_locks(r.locks);
}

// B's waits and wakes added to A's: two words of one object.
void absorb(Lock& a, const Lock& b) {
    a.address = std::min(a.address, b.address);
    add_counts(a, b);
    for (const Waiter& w : b.waiters) {
        auto same = std::find_if(a.waiters.begin(), a.waiters.end(),
                                 [&](const Waiter& x) { return x.tid == w.tid; });
        if (same == a.waiters.end()) {
            a.waiters.push_back(w);
            continue;
        }
        same->waits += w.waits;
        same->blocked += w.blocked;
        same->blocked_ns += w.blocked_ns;
    }
    for (const WakerPair& p : b.wakers) {
        auto same = std::find_if(a.wakers.begin(), a.wakers.end(), [&](const WakerPair& x) {
            return x.waiter_tid == p.waiter_tid && x.waker_tid == p.waker_tid;
        });
        if (same == a.wakers.end()) {
            a.wakers.push_back(p);
            continue;
        }
        same->count += p.count;
        same->handoffs += p.handoffs;
        same->handoff_ns += p.handoff_ns;
        same->by_futex_wake += p.by_futex_wake;
    }
    for (const auto& [tid, n] : b.owner_blocked)
        a.owner_blocked[tid] += n;
    sort_waiters_and_wakers(a);
}

// glibc's condition variable waits on two words (__g_signals[0] and [1], at +40 and +44 of
// the 8-aligned pthread_cond_t, so in one 8-byte block): one row per condition variable, at
// its first word, with or without a symbol.
void merge_condvar_words(Report& r) {
    std::map<std::pair<uint32_t, uint64_t>, size_t> row_of;  // (pid, 8-byte block) -> in kept
    std::vector<Lock> kept;
    for (Lock& l : r.locks) {
        if (l.kind == LockKind::Condvar) {
            auto [it, first] = row_of.try_emplace({l.pid, l.address & ~uint64_t(7)}, kept.size());
            if (!first) {
                absorb(kept[it->second], l);
                continue;
            }
        }
        kept.push_back(std::move(l));
    }
    r.locks = std::move(kept);
    sort_locks(r.locks);
}

// Only plain waits on the word, as pthread_join's on a thread's tid word.
bool only_plain_waits(uint32_t ops_seen) {
    const uint32_t plain =
        (1U << LW_FUTEX_WAIT) | (1U << LW_FUTEX_WAIT_BITSET) | (1U << LW_SYS_FUTEX_WAIT);
    return ops_seen && !(ops_seen & ~plain);
}

// What each futex word is (kinds.h), from the evidence its rows and its process's modules
// hold. A word inside a typed object is named after the object ("q_cond", not "q_cond+40");
// a join names the thread it waited for.
void classify_locks(const Snapshot& snap, tk::SymbolizerCache& symbols, Report& r) {
    std::map<LockId, std::vector<const LockRow*>> rows;
    for (const auto& row : snap.locks)
        rows[{row.key.pid, row.key.uaddr}].push_back(&row);
    std::map<uint32_t, const ThreadRow*> thread_of;
    for (const auto& t : snap.threads)
        thread_of[t.stats.tid] = &t;
    TypeFinder types;
    for (Lock& l : r.locks) {
        WordEvidence e;
        e.pi = l.flags & LW_LF_PI;
        tk::Symbolizer* sym = symbols.of(pid_t(l.pid));
        std::optional<tk::DataSymbol> ds;
        if (sym && l.name_kind == tk::LockNameKind::Symbol)
            ds = sym->data_symbol(l.address);
        if (ds) {
            e.guard_variable = ds->name.rfind("guard variable for ", 0) == 0;
            if (auto object = types.find(*sym, *ds, l.address)) {
                e.type_kind = object->kind;
                e.type_name = object->type;
                bool own = ds->module.empty() || ds->module == symbols.executable_of(pid_t(l.pid));
                l.name = object->name + (own ? "" : " (" + base_name(ds->module) + ")");
            }
        }
        for (const LockRow* row : rows[{l.pid, l.address}]) {
            const lw_lock_row& x = row->row;
            if (sym && x.wait_ip && e.wait_site.empty())
                e.wait_site = wait_call_site(*sym, x);
            if (sym && x.wake_ip && e.wake_site.empty())
                e.wake_site = call_site_at(*sym, x.wake_ip);
            auto t = thread_of.find(uint32_t(x.wait_val));
            if (x.wait_ip && !e.join_of && !ds && only_plain_waits(l.ops_seen) &&
                t != thread_of.end() && t->second->stats.pid == l.pid && t->first != row->key.tid) {
                e.join_of = t->first;
                e.join_comm = t->second->comm;
            }
        }
        KindVerdict v = classify(e);
        l.kind = v.kind;
        l.kind_evidence = v.evidence;
        if (v.kind == LockKind::Join && e.join_of)
            l.name = "join of thread " + std::to_string(*e.join_of) + " (" + e.join_comm + ")";
    }
}

// The owners of each mutex: of the tids its waits saw holding it, the traced threads.
void name_owners(const Snapshot& snap, Report& r) {
    std::map<uint32_t, const ThreadRow*> thread_of;
    for (const auto& t : snap.threads)
        thread_of[t.stats.tid] = &t;
    for (Lock& l : r.locks) {
        if (l.kind != LockKind::Mutex)
            continue;
        for (const auto& [tid, blocked] : l.owner_blocked) {
            auto t = thread_of.find(tid);
            if (t != thread_of.end())
                l.owners.push_back({tid, t->second->stats.pid, t->second->comm, blocked});
        }
        std::sort(l.owners.begin(), l.owners.end(),
                  [](const Owner& a, const Owner& b) { return a.blocked > b.blocked; });
    }
}

// --stacks: the stacks of blocked waits by blocked time, symbolized, and what stopped the
// frame-pointer walks short.
void resolve_stacks(const Snapshot& snap, tk::SymbolizerCache& symbols, LockNamer& namer,
                    const ResolveOptions& opts, Report& r) {
    std::vector<const StackRow*> rows;
    for (const auto& s : snap.stack_rows)
        rows.push_back(&s);
    std::sort(rows.begin(), rows.end(), [](const StackRow* a, const StackRow* b) {
        return a->row.blocked_ns > b->row.blocked_ns;
    });
    std::map<std::string, size_t> short_ends;  // "function (module)" -> short stacks ending there
    std::map<LockId, const std::string*> lock_names;  // as the kinds named them (q_cond, a join)
    for (const Lock& l : r.locks)
        lock_names[{l.pid, l.address}] = &l.name;
    for (size_t i = 0; i < rows.size() && i < opts.max_stacks; i++) {
        const auto& k = rows[i]->key;
        StackEntry e;
        e.pid = k.pid;
        e.address = k.uaddr;
        auto named = lock_names.find({k.pid, k.uaddr});
        e.lock_name = named != lock_names.end() ? *named->second : namer.name(k.pid, k.uaddr).name;
        e.count = rows[i]->row.count;
        e.blocked_ns = rows[i]->row.blocked_ns;
        for (const auto& t : snap.threads)
            if (t.stats.pid == k.pid && (e.comm.empty() || t.stats.tid == k.pid))
                e.comm = t.comm;
        auto ws = snap.stacks.find(k.waiter_stack);
        if (k.waiter_stack >= 0 && ws != snap.stacks.end()) {
            e.has_waiter = true;
            e.waiter.frames = user_frames(symbols.of(pid_t(k.pid)), ws->second);
            e.waiter.truncated = !reaches_entry_point(e.waiter.frames);
            r.user_stacks++;
            if (e.waiter.truncated) {
                r.short_user_stacks++;
                const Frame& last = e.waiter.frames.back();
                short_ends[(last.function.empty() ? hex(last.address) : last.function) + " (" +
                           (last.module.empty() ? "?" : last.module) + ")"]++;
            }
        }
        auto wk = snap.stacks.find(k.waker_stack);
        if (k.waker_stack >= 0 && wk != snap.stacks.end()) {
            e.has_waker = true;
            e.waker_pid = k.waker_pid;
            e.waker.frames = user_frames(symbols.of(pid_t(k.waker_pid)), wk->second);
            e.waker.truncated = !reaches_entry_point(e.waker.frames);
        }
        count_unnamed_frames(e.waiter.frames, r.unnamed_frames);
        count_unnamed_frames(e.waker.frames, r.unnamed_frames);
        r.stacks.push_back(std::move(e));
    }
    r.unnamed_frames_note = unnamed_frames_note(r.unnamed_frames);
    if (r.short_user_stacks) {
        auto most = std::max_element(short_ends.begin(), short_ends.end(),
                                     [](auto& a, auto& b) { return a.second < b.second; });
        r.short_stack_note =
            std::to_string(r.short_user_stacks) + " of " + std::to_string(r.user_stacks) +
            " waiter stacks stop before the thread's entry point (most end in " + most->first +
            "): code built without frame pointers (Debian's libc.so.6 and libstdc++.so.6 "
            "are) cuts the frame-pointer walk short, and the function that called into it "
            "is often missing; build with -fno-omit-frame-pointer where you can";
    }
}

// Kernel lock contention by (lock, site), by total time.
void resolve_kernel_locks(const Snapshot& snap, const tk::KernelSymbols* ksyms,
                          const ResolveOptions& opts, Report& r) {
    for (const auto& k : snap.kernel_locks) {
        KernelLock kl;
        kl.address = k.key.lock;
        kl.flags = k.key.flags;
        kl.type = kernel_lock_type(k.key.flags);
        kl.pid = k.key.pid;
        kl.count = k.row.count;
        kl.total_ns = k.row.total_ns;
        kl.max_ns = k.row.max_ns;
        auto st = snap.stacks.find(k.key.stack);
        if (k.key.stack >= 0 && st != snap.stacks.end())
            kl.stack = kernel_frames(ksyms, st->second);
        // a failed capture (a hash collision in the stack map) is counted in dropped.stacks
        if (!opts.kernel_stacks)
            kl.where = "(--kernel-stacks for the call site)";
        else
            kl.where = kl.stack.empty() ? "(stack not captured)" : kernel_lock_site(kl.stack);
        r.kernel_locks.push_back(std::move(kl));
    }
    std::sort(r.kernel_locks.begin(), r.kernel_locks.end(),
              [](const KernelLock& a, const KernelLock& b) { return a.total_ns > b.total_ns; });
}

// --uprobes: the pthread objects, named like the futex words.
void resolve_user_locks(const Snapshot& snap, LockNamer& namer, Report& r) {
    for (const auto& u : snap.user_locks) {
        UserLock ul;
        ul.pid = u.key.pid;
        ul.address = u.key.addr;
        ul.kind = ulock_kind_name(u.key.kind);
        ul.name = namer.name(u.key.pid, u.key.addr).name;
        ul.acquires = u.acquires;
        ul.acquire_ns = u.acquire_ns;
        ul.try_busy = u.try_busy;
        ul.holds = u.holds;
        ul.hold_ns = u.hold_ns;
        ul.max_hold_ns = u.max_hold_ns;
        ul.h_acquire = u.h_acquire;
        ul.h_hold = u.h_hold;
        if (u.cond_mutex) {
            ul.mutex = u.cond_mutex;
            ul.mutex_name = namer.name(u.key.pid, u.cond_mutex).name;
        }
        r.user_locks.push_back(std::move(ul));
    }
    std::sort(r.user_locks.begin(), r.user_locks.end(), [](const UserLock& a, const UserLock& b) {
        return a.acquire_ns + a.hold_ns > b.acquire_ns + b.hold_ns;
    });
}

// A condition variable's futex words lie inside its pthread_cond_t, whose waits the uprobes
// saw with their mutex: the mutex is the condvar's, named as the object it is (a member:
// "g_queue.lock") where the debug info says, else as the uprobes' table names it.
void add_condvar_mutexes(tk::SymbolizerCache& symbols, Report& r) {
    TypeFinder types;
    for (Lock& l : r.locks) {
        if (l.kind != LockKind::Condvar)
            continue;
        for (const UserLock& u : r.user_locks) {
            if (u.kind != "cond" || u.pid != l.pid || !u.mutex || l.address < u.address ||
                l.address >= u.address + sizeof(pthread_cond_t))
                continue;
            l.cond_mutex = u.mutex_name;
            tk::Symbolizer* sym = symbols.of(pid_t(l.pid));
            if (auto ds = sym ? sym->data_symbol(u.mutex) : std::nullopt)
                if (auto object = types.find(*sym, *ds, u.mutex))
                    l.cond_mutex = object->name;
            break;
        }
    }
}

}  // namespace

void resolve(const Snapshot& snap, tk::ProcessMaps& maps, tk::SymbolizerCache& symbols,
             const tk::KernelSymbols* ksyms, const ResolveOptions& opts, Report& r) {
    copy_run(snap, maps, opts, r);
    std::map<uint32_t, std::string> comm_of_tid;
    for (const auto& t : snap.threads)
        comm_of_tid[t.stats.tid] = t.comm;
    LockNamer namer(snap, maps, symbols);
    LockMap locks = merge_lock_rows(snap, comm_of_tid);
    add_wakers(snap, comm_of_tid, locks);
    rank_locks(locks, namer, r);
    classify_locks(snap, symbols, r);
    merge_condvar_words(r);
    name_owners(snap, r);
    if (opts.stacks)
        resolve_stacks(snap, symbols, namer, opts, r);
    if (opts.kernel_locks)
        resolve_kernel_locks(snap, ksyms, opts, r);
    if (opts.uprobes) {
        resolve_user_locks(snap, namer, r);
        add_condvar_mutexes(symbols, r);
    }
    for (auto& w : symbols.warnings())
        r.warnings.push_back("symbolizer: " + w);
}

}  // namespace lockwait
