#include "contention/worker.h"

#include <sched.h>

#include <vector>

#include "common/work.h"
#include "contention/locks.h"
#include "errors.h"

namespace ct {
namespace {

constexpr auto relaxed = std::memory_order_relaxed;

void raise_max(std::atomic<int32_t>& max, int32_t value) {
    int32_t seen = max.load(relaxed);
    while (value > seen && !max.compare_exchange_weak(seen, value, relaxed)) {
    }
}

// The exclusive section every mutual-exclusion mode shares: nobody else may be inside, and
// the protected counter advances by a plain load and store, which loses updates if two
// holders ever overlap.
void exclusive_section(const Config& cfg, unsigned id, WorkerResult& r) {
    std::atomic_ref<uint32_t> holder(g_guarded.holder);
    std::atomic_ref<uint64_t> counter(g_guarded.counter);
    if (holder.load(relaxed) != 0)
        r.violations++;
    holder.store(id + 1, relaxed);
    counter.store(counter.load(relaxed) + 1, relaxed);
    wl::spin_for_ns(cfg.cs_ns);
    if (holder.load(relaxed) != id + 1)
        r.violations++;
    holder.store(0, relaxed);
}

bool is_write(const Config& cfg, uint64_t i, unsigned id) {
    // Evenly spread writes, (100 - read_pct) in every 100 operations, staggered per worker.
    uint64_t k = i + uint64_t(id) * 7;
    uint64_t w = 100 - cfg.read_pct;
    return (k + 1) * w / 100 != k * w / 100;
}

// Each operation below takes its lock, notes when it got it, does its critical section,
// releases, and returns the time it got the lock.

uint64_t mutex_op(const Config& cfg, unsigned id, WorkerResult& r) {
    if (!cfg.break_lock)
        pthread_mutex_lock(&g_contended_mutex);
    uint64_t held = wl::now_ns();
    r.lock_acquisitions++;
    exclusive_section(cfg, id, r);
    if (!cfg.break_lock)
        pthread_mutex_unlock(&g_contended_mutex);
    return held;
}

uint64_t spin_op(const Config& cfg, unsigned id, WorkerResult& r) {
    if (!cfg.break_lock)
        pthread_spin_lock(&g_contended_spinlock);
    uint64_t held = wl::now_ns();
    r.lock_acquisitions++;
    exclusive_section(cfg, id, r);
    if (!cfg.break_lock)
        pthread_spin_unlock(&g_contended_spinlock);
    return held;
}

uint64_t rwlock_op(const Config& cfg, unsigned id, uint64_t i, WorkerResult& r) {
    std::atomic_ref<uint32_t> holder(g_guarded.holder);
    std::atomic_ref<uint64_t> a(g_guarded.a), b(g_guarded.b);
    uint64_t held;
    if (is_write(cfg, i, id)) {
        pthread_rwlock_wrlock(&g_contended_rwlock);
        held = wl::now_ns();
        r.writes++;
        if (holder.load(relaxed) != 0 || g_guarded.readers_inside.load(relaxed) != 0)
            r.violations++;
        holder.store(id + 1, relaxed);
        a.store(a.load(relaxed) + 1, relaxed);
        wl::spin_for_ns(cfg.cs_ns);
        b.store(b.load(relaxed) + 1, relaxed);
        if (holder.load(relaxed) != id + 1)
            r.violations++;
        holder.store(0, relaxed);
    } else {
        pthread_rwlock_rdlock(&g_contended_rwlock);
        held = wl::now_ns();
        r.reads++;
        int32_t inside = g_guarded.readers_inside.fetch_add(1, relaxed) + 1;
        raise_max(g_guarded.max_readers, inside);
        // A writer inside, or a write half done, means the lock let a reader in too early.
        if (holder.load(relaxed) != 0 || a.load(relaxed) != b.load(relaxed))
            r.violations++;
        wl::spin_for_ns(cfg.cs_ns);
        g_guarded.readers_inside.fetch_sub(1, relaxed);
    }
    r.lock_acquisitions++;
    pthread_rwlock_unlock(&g_contended_rwlock);
    return held;
}

uint64_t semaphore_op(const Config& cfg, WorkerResult& r) {
    while (sem_wait(&g_contended_sem) != 0) {
        if (errno != EINTR)
            throw tk::UserError(tk::errno_text("sem_wait"));
    }
    uint64_t held = wl::now_ns();
    r.lock_acquisitions++;
    int32_t inside = g_guarded.inside.fetch_add(1, relaxed) + 1;
    raise_max(g_guarded.max_inside, inside);
    if (inside > int32_t(cfg.permits))
        r.violations++;
    wl::spin_for_ns(cfg.cs_ns);
    g_guarded.inside.fetch_sub(1, relaxed);
    if (sem_post(&g_contended_sem) != 0)
        throw tk::UserError(tk::errno_text("sem_post"));
    return held;
}

void wait_for_start(Control& control) {
    control.arrive_and_wait();
}

bool finished(const Config& cfg, Control& control, uint64_t done, uint64_t now) {
    if (cfg.ops_per_worker && done >= cfg.ops_per_worker)
        return true;
    return control.past_deadline(now);
}

void record(WorkerResult& r, uint64_t start, uint64_t held, uint64_t end) {
    r.wait.record(held - start);
    r.op.record(end - start);
    r.ops++;
}

WorkerResult run_lock_worker(const Config& cfg, unsigned id, Control& control) {
    WorkerResult r;
    r.id = id;
    r.role = "worker";
    wait_for_start(control);
    uint64_t now = wl::now_ns();
    for (uint64_t i = 0; !finished(cfg, control, r.ops, now); i++) {
        uint64_t start = wl::now_ns(), held = 0;
        switch (cfg.mode) {
            case Mode::mutex:
                held = mutex_op(cfg, id, r);
                break;
            case Mode::spin:
                held = spin_op(cfg, id, r);
                break;
            case Mode::rwlock:
                held = rwlock_op(cfg, id, i, r);
                break;
            case Mode::semaphore:
                held = semaphore_op(cfg, r);
                break;
            case Mode::condvar:
                throw tk::UserError("internal: condvar in the lock loop");
        }
        now = wl::now_ns();
        record(r, start, held, now);
        wl::spin_for_ns(cfg.think_ns);
    }
    return r;
}

// Producer/consumer on one mutex and two condition variables over a bounded FIFO. Items are
// producer id << 32 | sequence number (from 1), so a consumer can check that it sees each
// producer's items in the order they were queued.
WorkerResult run_producer(const Config& cfg, unsigned id, Control& control) {
    WorkerResult r;
    r.id = id;
    r.role = "producer";
    GuardedData& g = g_guarded;
    wait_for_start(control);
    uint64_t now = wl::now_ns();
    for (uint64_t seq = 1; !finished(cfg, control, r.ops, now); seq++) {
        uint64_t item = uint64_t(id) << 32 | seq;
        uint64_t start = wl::now_ns();
        pthread_mutex_lock(&g_contended_mutex);
        r.lock_acquisitions++;
        while (g.count == g.capacity)
            pthread_cond_wait(&g_contended_not_full, &g_contended_mutex);
        uint64_t held = wl::now_ns();
        g.items[(g.head + g.count) % g.capacity] = item;
        g.count++;
        wl::spin_for_ns(cfg.cs_ns);
        pthread_cond_signal(&g_contended_not_empty);
        pthread_mutex_unlock(&g_contended_mutex);
        now = wl::now_ns();
        record(r, start, held, now);
        r.items++;
        r.item_sum += item;
        wl::spin_for_ns(cfg.think_ns);
    }
    pthread_mutex_lock(&g_contended_mutex);
    g.producers_left--;
    pthread_cond_broadcast(&g_contended_not_empty);  // consumers may now find nothing left
    pthread_mutex_unlock(&g_contended_mutex);
    return r;
}

WorkerResult run_consumer(const Config& cfg, unsigned id, Control& control) {
    WorkerResult r;
    r.id = id;
    r.role = "consumer";
    GuardedData& g = g_guarded;
    std::vector<uint64_t> last_seq(cfg.producers, 0);
    wait_for_start(control);
    for (;;) {
        uint64_t start = wl::now_ns();
        pthread_mutex_lock(&g_contended_mutex);
        r.lock_acquisitions++;
        while (g.count == 0 && g.producers_left > 0)
            pthread_cond_wait(&g_contended_not_empty, &g_contended_mutex);
        if (g.count == 0) {  // every producer is done and the queue is drained
            pthread_mutex_unlock(&g_contended_mutex);
            break;
        }
        uint64_t held = wl::now_ns();
        uint64_t item = g.items[g.head];
        g.head = (g.head + 1) % g.capacity;
        g.count--;
        wl::spin_for_ns(cfg.cs_ns);
        pthread_cond_signal(&g_contended_not_full);
        pthread_mutex_unlock(&g_contended_mutex);
        uint64_t now = wl::now_ns();
        record(r, start, held, now);
        uint64_t producer = item >> 32, seq = item & 0xffffffffu;
        if (producer >= last_seq.size() || seq <= last_seq[producer])
            r.violations++;
        else
            last_seq[producer] = seq;
        r.items++;
        r.item_sum += item;
        wl::spin_for_ns(cfg.think_ns);
    }
    return r;
}

}  // namespace

const char* mode_name(Mode m) {
    switch (m) {
        case Mode::mutex:
            return "mutex";
        case Mode::spin:
            return "spin";
        case Mode::rwlock:
            return "rwlock";
        case Mode::condvar:
            return "condvar";
        case Mode::semaphore:
            return "semaphore";
    }
    return "?";
}

const char* lock_symbol(Mode m) {
    switch (m) {
        case Mode::mutex:
            return "g_contended_mutex";
        case Mode::spin:
            return "g_contended_spinlock";
        case Mode::rwlock:
            return "g_contended_rwlock";
        case Mode::condvar:
            return "g_contended_mutex";
        case Mode::semaphore:
            return "g_contended_sem";
    }
    return "?";
}

const void* lock_address(Mode m) {
    switch (m) {
        case Mode::mutex:
            return &g_contended_mutex;
        case Mode::spin:
            return const_cast<int*>(&g_contended_spinlock);
        case Mode::rwlock:
            return &g_contended_rwlock;
        case Mode::condvar:
            return &g_contended_mutex;
        case Mode::semaphore:
            return &g_contended_sem;
    }
    return nullptr;
}

WorkerResult run_worker(const Config& cfg, unsigned id, Control& control) {
    if (cfg.mode != Mode::condvar)
        return run_lock_worker(cfg, id, control);
    return id < cfg.producers ? run_producer(cfg, id, control) : run_consumer(cfg, id, control);
}

nlohmann::json WorkerResult::to_json() const {
    return {{"id", id},
            {"role", role},
            {"ops", ops},
            {"lock_acquisitions", lock_acquisitions},
            {"reads", reads},
            {"writes", writes},
            {"items", items},
            {"item_sum", item_sum},
            {"violations", violations},
            {"wait", wait.to_json()},
            {"op", op.to_json()}};
}

WorkerResult WorkerResult::from_json(const nlohmann::json& j) {
    WorkerResult r;
    r.id = j.at("id");
    r.role = j.at("role");
    r.ops = j.at("ops");
    r.lock_acquisitions = j.at("lock_acquisitions");
    r.reads = j.at("reads");
    r.writes = j.at("writes");
    r.items = j.at("items");
    r.item_sum = j.at("item_sum");
    r.violations = j.at("violations");
    r.wait = tk::Histogram::from_json(j.at("wait"));
    r.op = tk::Histogram::from_json(j.at("op"));
    return r;
}

}  // namespace ct
