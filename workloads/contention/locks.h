// The contended locks (defined in lock_page.S as named globals on one page) and the data
// they protect, which the workers use to check that the locks really exclude.
#pragma once

#include <pthread.h>
#include <semaphore.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace ct {

inline constexpr uint32_t kQueueMax = 256;

// Protected by the lock of the mode in use. Plain fields are only touched while holding it;
// the workers read and write them through relaxed atomic_refs so that an overlap the lock
// failed to prevent shows up as a lost update or a wrong holder instead of being optimized
// away.
struct GuardedData {
    uint64_t counter;  // mutex, spin: +1 per acquisition, by load and store (not an RMW)
    uint32_t holder;   // exclusive holder's worker id + 1, 0 when free
    uint32_t pad0;
    uint64_t a, b;  // rwlock: writers advance both, readers must see them equal
    std::atomic<int32_t> readers_inside, max_readers;  // rwlock: concurrent readers
    std::atomic<int32_t> inside, max_inside;           // semaphore: concurrent holders
    // condvar: a bounded FIFO of items, producer id << 32 | sequence number
    uint32_t head, count, capacity, producers_left;
    uint64_t items[kQueueMax];
};

}  // namespace ct

extern "C" {
extern pthread_mutex_t g_contended_mutex;
extern pthread_spinlock_t g_contended_spinlock;
extern pthread_rwlock_t g_contended_rwlock;
extern pthread_cond_t g_contended_not_empty;
extern pthread_cond_t g_contended_not_full;
extern sem_t g_contended_sem;
extern ct::GuardedData g_guarded;
}

namespace ct {

// The page lock_page.S reserves: it starts at g_contended_mutex.
inline constexpr size_t kLockPageSize = 4096;

// Process model: replaces the lock page with a MAP_SHARED one at the same address, so
// children forked afterwards share it. Throws tk::UserError on failure.
void share_lock_page();
// Initializes every lock (process-shared when `shared`), the semaphore with `permits`, and
// the queue with `queue_capacity` slots.
void init_locks(bool shared, unsigned permits, uint32_t queue_capacity, uint32_t producers);
void destroy_locks();

}  // namespace ct
