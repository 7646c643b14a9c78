#include "contention/locks.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "errors.h"

static_assert(sizeof(pthread_mutex_t) <= 64 && sizeof(pthread_mutex_t) == 40);
static_assert(sizeof(pthread_spinlock_t) == 4);
static_assert(sizeof(pthread_rwlock_t) == 56);
static_assert(sizeof(pthread_cond_t) == 48);
static_assert(sizeof(sem_t) == 32);
static_assert(sizeof(ct::GuardedData) <= 3072, "grow g_guarded in lock_page.S");

namespace ct {
namespace {

void check(int rc, const char* what) {
    if (rc != 0)
        throw tk::UserError(tk::errno_text(what, rc));
}

}  // namespace

void share_lock_page() {
    void* page = &g_contended_mutex;
    if (sysconf(_SC_PAGESIZE) != long(kLockPageSize) ||
        reinterpret_cast<uintptr_t>(page) % kLockPageSize != 0)
        throw tk::UserError("the lock page is not one aligned page here (page size " +
                            std::to_string(sysconf(_SC_PAGESIZE)) + "): use --model thread");
    void* got = mmap(page, kLockPageSize, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (got != page)
        throw tk::UserError(tk::errno_text("mmap MAP_SHARED over the lock page"));
}

void init_locks(bool shared, unsigned permits, uint32_t queue_capacity, uint32_t producers) {
    int pshared = shared ? PTHREAD_PROCESS_SHARED : PTHREAD_PROCESS_PRIVATE;
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    check(pthread_mutexattr_setpshared(&ma, pshared), "pthread_mutexattr_setpshared");
    check(pthread_mutex_init(&g_contended_mutex, &ma), "pthread_mutex_init");
    pthread_mutexattr_destroy(&ma);

    check(pthread_spin_init(&g_contended_spinlock, pshared), "pthread_spin_init");

    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    check(pthread_rwlockattr_setpshared(&ra, pshared), "pthread_rwlockattr_setpshared");
    check(pthread_rwlock_init(&g_contended_rwlock, &ra), "pthread_rwlock_init");
    pthread_rwlockattr_destroy(&ra);

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    check(pthread_condattr_setpshared(&ca, pshared), "pthread_condattr_setpshared");
    check(pthread_cond_init(&g_contended_not_empty, &ca), "pthread_cond_init");
    check(pthread_cond_init(&g_contended_not_full, &ca), "pthread_cond_init");
    pthread_condattr_destroy(&ca);

    if (sem_init(&g_contended_sem, shared ? 1 : 0, permits) != 0)
        throw tk::UserError(tk::errno_text("sem_init"));

    std::memset(static_cast<void*>(&g_guarded), 0, sizeof g_guarded);
    g_guarded.capacity = queue_capacity;
    g_guarded.producers_left = producers;
}

void destroy_locks() {
    pthread_mutex_destroy(&g_contended_mutex);
    pthread_spin_destroy(&g_contended_spinlock);
    pthread_rwlock_destroy(&g_contended_rwlock);
    pthread_cond_destroy(&g_contended_not_empty);
    pthread_cond_destroy(&g_contended_not_full);
    sem_destroy(&g_contended_sem);
}

}  // namespace ct
