// Links without a payload: futex, POSIX semaphore, System V semaphore, mutex + condition
// variable. The token goes through a slot in memory both sides see (MAP_SHARED for
// processes), written before the wakeup and read after it.
#include <errno.h>
#include <linux/futex.h>
#include <semaphore.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "common/shm.h"
#include "pingpong/links.h"

namespace pp {
namespace {

long futex(std::atomic<uint32_t>* word, int op, uint32_t value) {
    return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, value, nullptr, nullptr, 0);
}

// The bare futex protocol: `full` is the futex word (0 empty, 1 a token is waiting).
// send: store the token, set full, FUTEX_WAKE. recv: FUTEX_WAIT while full == 0, then
// clear it. recv always makes at least one FUTEX_WAIT call (it returns EAGAIN at once when
// the token is already there), so a round trip is two wakes and two waits whether or not
// anybody blocks: the baseline makes the same four system calls as the real ping-pong.
struct FutexSlot {
    std::atomic<uint32_t> full{0};
    uint64_t token = 0;
};

class FutexLink : public Link {
  public:
    explicit FutexLink(bool shared) : private_flag_(shared ? 0 : FUTEX_PRIVATE_FLAG) {}

    void send(uint64_t token) override {
        slot_->token = token;
        slot_->full.store(1, std::memory_order_release);
        if (futex(&slot_->full, FUTEX_WAKE | private_flag_, 1) < 0)
            syscall_failed("FUTEX_WAKE");
    }

    uint64_t recv() override {
        for (;;) {
            if (futex(&slot_->full, FUTEX_WAIT | private_flag_, 0) < 0) {
                if (errno == EINTR)
                    on_interrupted("FUTEX_WAIT");
                else if (errno != EAGAIN)
                    syscall_failed("FUTEX_WAIT");
            }
            if (slot_->full.load(std::memory_order_acquire) == 1)
                break;
        }
        // Safe without a compare-exchange: the sender does not send again on this link
        // before we answer on the other one.
        slot_->full.store(0, std::memory_order_relaxed);
        return slot_->token;
    }

  private:
    wl::Shared<FutexSlot> slot_;
    int private_flag_;
};

struct SemSlot {
    explicit SemSlot(bool shared) {
        if (sem_init(&sem, shared ? 1 : 0, 0) != 0)
            syscall_failed("sem_init");
    }
    ~SemSlot() { sem_destroy(&sem); }
    sem_t sem;
    uint64_t token = 0;
};

// POSIX semaphore (glibc: a futex with a user-space fast path, so the baseline's uncontended
// post + wait make no system call at all).
class PosixSemLink : public Link {
  public:
    explicit PosixSemLink(bool shared) : slot_(shared) {}
    void send(uint64_t token) override {
        slot_->token = token;
        if (sem_post(&slot_->sem) != 0)
            syscall_failed("sem_post");
    }
    uint64_t recv() override {
        while (sem_wait(&slot_->sem) != 0) {
            if (errno != EINTR)
                syscall_failed("sem_wait");
            on_interrupted("sem_wait");
        }
        return slot_->token;
    }

  private:
    wl::Shared<SemSlot> slot_;
};

// System V semaphore: every semop is a system call, contended or not.
class SysvSemLink : public Link {
  public:
    SysvSemLink() : owner_(getpid()) {
        id_ = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
        if (id_ < 0)
            syscall_failed("semget (check kernel.sem limits in /proc/sys/kernel/sem)");
        union {
            int val;
            struct semid_ds* buf;
            unsigned short* array;
        } arg{};
        arg.val = 0;
        if (semctl(id_, 0, SETVAL, arg) != 0)
            syscall_failed("semctl SETVAL");
    }
    ~SysvSemLink() override {
        // Only the creator removes the set; a forked child leaves through _exit anyway.
        if (id_ >= 0 && getpid() == owner_)
            semctl(id_, 0, IPC_RMID);
    }
    void send(uint64_t token) override {
        *token_ = token;
        op(+1, "semop +1");
    }
    uint64_t recv() override {
        op(-1, "semop -1");
        return *token_;
    }

  private:
    void op(short delta, const char* what) {
        struct sembuf sb {};
        sb.sem_num = 0;
        sb.sem_op = delta;
        while (semop(id_, &sb, 1) != 0) {
            if (errno != EINTR)
                syscall_failed(what);
            on_interrupted(what);
        }
    }
    int id_ = -1;
    pid_t owner_;
    wl::Shared<uint64_t> token_;
};

// Mutex + condition variable (threads only): the textbook monitor.
class CondvarLink : public Link {
  public:
    void send(uint64_t token) override {
        {
            std::lock_guard lock(mutex_);
            token_ = token;
            full_ = true;
        }
        cv_.notify_one();
    }
    uint64_t recv() override {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return full_; });
        full_ = false;
        return token_;
    }

  private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool full_ = false;
    uint64_t token_ = 0;
};

}  // namespace

LinkPair make_futex_links(bool shared) {
    return {std::make_unique<FutexLink>(shared), std::make_unique<FutexLink>(shared)};
}
LinkPair make_posix_sem_links(bool shared) {
    return {std::make_unique<PosixSemLink>(shared), std::make_unique<PosixSemLink>(shared)};
}
LinkPair make_sysv_sem_links() {
    return {std::make_unique<SysvSemLink>(), std::make_unique<SysvSemLink>()};
}
LinkPair make_condvar_links() {
    return {std::make_unique<CondvarLink>(), std::make_unique<CondvarLink>()};
}

}  // namespace pp
