#include "cpuio/worker.h"

#include <errno.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/work.h"
#include "errors.h"

namespace cpuio {
namespace {

class TimerFd {
  public:
    explicit TimerFd(bool nonblocking) {
        fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | (nonblocking ? TFD_NONBLOCK : 0));
        if (fd_ < 0)
            throw tk::UserError(tk::errno_text("timerfd_create"));
    }
    ~TimerFd() { close(fd_); }
    int fd() const { return fd_; }
    void arm(uint64_t us) {
        struct itimerspec spec {};
        spec.it_value.tv_sec = time_t(us / 1000000);
        spec.it_value.tv_nsec = long(us % 1000000) * 1000;
        if (timerfd_settime(fd_, 0, &spec, nullptr) != 0)
            throw tk::UserError(tk::errno_text("timerfd_settime"));
    }
    // Expirations since the last read; -1 if not expired yet (non-blocking fd only).
    int64_t read_expirations() {
        uint64_t n = 0;
        for (;;) {
            ssize_t got = read(fd_, &n, sizeof n);
            if (got == sizeof n)
                return int64_t(n);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0 && errno == EAGAIN)
                return -1;
            throw tk::UserError(tk::errno_text("read timerfd"));
        }
    }

  private:
    int fd_ = -1;
};

}  // namespace

WorkerResult run_worker(const Work& work, wl::StartLine* start, const WaitReadable& wait,
                        const AfterOp& after_op) {
    WorkerResult r;
    std::unique_ptr<TimerFd> timer;
    if (work.kind == Kind::io)
        timer = std::make_unique<TimerFd>(bool(wait));
    if (start)
        start->arrive_and_wait();
    uint64_t now = wl::now_ns();
    while (!(work.ops && r.ops >= work.ops) && !(start && start->past_deadline(now))) {
        uint64_t begin = wl::now_ns();
        if (work.kind == Kind::cpu) {
            if (wl::hash_bytes(work.buffer->data(), work.buffer->size()) != work.expected_hash)
                r.errors++;
        } else {
            timer->arm(work.wait_us);
            int64_t expirations = -1;
            while (expirations < 0) {
                if (wait)
                    wait(timer->fd());  // coroutine: park until readable
                expirations = timer->read_expirations();
            }
            if (expirations != 1)
                r.errors++;  // a one-shot timer expires exactly once
        }
        now = wl::now_ns();
        r.op.record(now - begin);
        r.ops++;
        if (work.kind == Kind::cpu && after_op)
            after_op();
    }
    return r;
}

nlohmann::json WorkerResult::to_json() const {
    return {{"ops", ops}, {"errors", errors}, {"op", op.to_json()}};
}

WorkerResult WorkerResult::from_json(const nlohmann::json& j) {
    WorkerResult r;
    r.ops = j.at("ops");
    r.errors = j.at("errors");
    r.op = tk::Histogram::from_json(j.at("op"));
    return r;
}

}  // namespace cpuio
