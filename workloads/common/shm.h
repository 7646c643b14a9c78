// An object placed in an anonymous MAP_SHARED mapping, so a parent and the children it forks
// afterwards see the same bytes: the futex words, semaphores and counters that process
// workloads share. Only the creating process destroys and unmaps it; forked children leave
// through _exit and never run the destructor.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <new>
#include <utility>

#include "errors.h"

namespace wl {

template <class T>
class Shared {
  public:
    template <class... Args>
    explicit Shared(Args&&... args) {
        void* mem =
            mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED)
            throw tk::UserError(tk::errno_text("mmap shared memory"));
        ptr_ = new (mem) T(std::forward<Args>(args)...);
        owner_ = getpid();
    }
    Shared(const Shared&) = delete;
    Shared& operator=(const Shared&) = delete;
    ~Shared() {
        if (getpid() == owner_)
            ptr_->~T();
        munmap(ptr_, sizeof(T));
    }

    T* get() const { return ptr_; }
    T* operator->() const { return ptr_; }
    T& operator*() const { return *ptr_; }

  private:
    T* ptr_ = nullptr;
    pid_t owner_ = 0;
};

}  // namespace wl
