#include "cpuio/scheduler.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "errors.h"

namespace cpuio {

Scheduler::Scheduler() {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0)
        throw tk::UserError(tk::errno_text("epoll_create1"));
}

Scheduler::~Scheduler() {
    close(epoll_fd_);
}

void Scheduler::spawn(std::function<void()> body) {
    tasks_.push_back({std::make_unique<wl::StackfulCoroutine>(std::move(body)), -1});
    ready_.push_back(tasks_.size() - 1);
}

void Scheduler::yield() {
    requeue_ = true;
    tasks_[current_].coroutine->yield();
}

void Scheduler::wait_readable(int fd) {
    Task& task = tasks_[current_];
    struct epoll_event ev {};
    ev.events = EPOLLIN | EPOLLONESHOT;  // one wakeup per wait; re-armed by the next wait
    ev.data.u64 = current_;
    int op = task.registered_fd == fd ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(epoll_fd_, op, fd, &ev) != 0)
        throw tk::UserError(tk::errno_text("epoll_ctl"));
    task.registered_fd = fd;
    requeue_ = false;
    task.coroutine->yield();
}

void Scheduler::run() {
    size_t alive = 0;
    for (const auto& t : tasks_)
        alive += t.coroutine->done() ? 0 : 1;
    while (alive > 0) {
        if (ready_.empty()) {
            struct epoll_event events[64];
            int n = epoll_wait(epoll_fd_, events, 64, -1);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                throw tk::UserError(tk::errno_text("epoll_wait"));
            for (int i = 0; i < n; i++)
                ready_.push_back(size_t(events[i].data.u64));
            continue;
        }
        current_ = ready_.front();
        ready_.pop_front();
        requeue_ = false;
        tasks_[current_].coroutine->resume();
        if (tasks_[current_].coroutine->done())
            alive--;
        else if (requeue_)
            ready_.push_back(current_);
    }
}

uint64_t Scheduler::switches() const {
    uint64_t n = 0;
    for (const auto& t : tasks_)
        n += t.coroutine->switches();
    return n;
}

}  // namespace cpuio
