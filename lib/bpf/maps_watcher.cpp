#include "maps_watcher.h"

#include <bpf/libbpf.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>

#include "errors.h"
#include "proc.h"
#include "process_events.h"

namespace tk {

MapsWatcher::MapsWatcher(int fd, ProcessMaps& maps, std::function<void(pid_t, bool)> on_process,
                         Refresh refresh)
    : maps_(maps), on_process_(std::move(on_process)), refresh_(refresh) {
    rb_ = ring_buffer__new(fd, &MapsWatcher::on_event, this, nullptr);
    if (!rb_)
        throw UserError(errno_text("cannot open the BPF ring buffer"));
    wake_ = Fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    poll_ = Fd(epoll_create1(EPOLL_CLOEXEC));
    epoll_event in{};
    in.events = EPOLLIN;
    if (!wake_ || !poll_ || epoll_ctl(poll_.get(), EPOLL_CTL_ADD, wake_.get(), &in) ||
        epoll_ctl(poll_.get(), EPOLL_CTL_ADD, ring_buffer__epoll_fd(rb_), &in)) {
        int err = errno;
        ring_buffer__free(rb_);
        throw UserError(errno_text("cannot wait for the BPF ring buffer", err));
    }
    thread_ = std::thread([this] { run(); });
}

MapsWatcher::~MapsWatcher() {
    stop_ = true;
    wake_up();
    if (thread_.joinable())
        thread_.join();
    ring_buffer__free(rb_);
}

void MapsWatcher::wake_up() {
    uint64_t one = 1;
    if (write(wake_.get(), &one, sizeof one) < 0) {
        // the counter is full, so a wakeup is pending already
    }
}

int MapsWatcher::on_event(void* ctx, void* data, size_t size) {
    auto* self = static_cast<MapsWatcher*>(ctx);
    if (size < sizeof(process_event))
        return 0;
    const auto* e = static_cast<const process_event*>(data);
    pid_t pid = pid_t(e->pid);
    if (e->type == PE_ADDRESS) {
        if (!self->maps_.covers(pid, e->addr))
            self->maps_.capture(pid);
        return 0;
    }
    if (e->type == PE_PROCESS || e->type == PE_FORK)
        self->maps_.note_parent(pid, pid_t(e->ppid));
    self->maps_.capture(pid);
    if (self->on_process_)
        self->on_process_(pid, e->type == PE_EXEC);
    return 0;
}

void MapsWatcher::drain() {
    std::unique_lock lock(drain_mutex_);
    uint64_t ticket = ++drain_requested_;
    wake_up();
    drained_cv_.wait(lock, [&] { return drained_ >= ticket; });
}

void MapsWatcher::run() {
    // A process's mappings can be read only while it lives, and a short workload may exit
    // a few milliseconds after its first futex call. As a real-time thread (we run as
    // root) the watcher gets a CPU as soon as an event wakes it, ahead of the workload and
    // whatever else keeps the CPUs busy. Without the privilege it stays an ordinary thread.
    sched_param rt{};
    rt.sched_priority = 1;
    pthread_setschedparam(pthread_self(), SCHED_FIFO, &rt);
    using clock = std::chrono::steady_clock;
    auto next_refresh = clock::now() + std::chrono::seconds(1);
    while (!stop_) {
        epoll_event ready[2];
        epoll_wait(poll_.get(), ready, 2, 1000);
        uint64_t wakeups;
        if (read(wake_.get(), &wakeups, sizeof wakeups) < 0) {
            // EAGAIN: the ring buffer woke us, not drain() or the end
        }
        ring_buffer__consume(rb_);
        uint64_t wanted;
        {
            std::lock_guard lock(drain_mutex_);
            wanted = drain_requested_;
        }
        if (wanted > drained_) {  // drained_ is written by this thread only
            std::lock_guard lock(drain_mutex_);
            drained_ = wanted;
            drained_cv_.notify_all();
        }
        if (refresh_ == Refresh::EverySecond && clock::now() >= next_refresh) {
            // libraries opened later (dlopen) and processes that keep running
            for (pid_t pid : maps_.pids())
                if (process_exists(pid))
                    maps_.capture(pid);
            next_refresh = clock::now() + std::chrono::seconds(1);
        }
    }
}

}  // namespace tk
