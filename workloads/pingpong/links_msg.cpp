// Links that carry the token as a message: POSIX message queue and real-time signal.
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>

#include "errors.h"
#include "pingpong/links.h"

namespace pp {
namespace {

class MqueueLink : public Link {
  public:
    MqueueLink() {
        static std::atomic<int> counter{0};
        std::string name =
            "/pingpong." + std::to_string(getpid()) + "." + std::to_string(counter++);
        struct mq_attr attr {};
        attr.mq_maxmsg = 1;  // strict alternation never queues more than one token
        attr.mq_msgsize = sizeof(uint64_t);
        queue_ = mq_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attr);
        if (queue_ == mqd_t(-1))
            throw tk::UserError(tk::errno_text("mq_open " + name) +
                                ": POSIX message queues need CONFIG_POSIX_MQUEUE and room under "
                                "/proc/sys/fs/mqueue/queues_max");
        // The descriptor stays valid (and is inherited by fork); the name is not needed, and
        // unlinking now means nothing is left behind whatever happens next.
        mq_unlink(name.c_str());
    }
    ~MqueueLink() override { mq_close(queue_); }

    void send(uint64_t token) override {
        while (mq_send(queue_, reinterpret_cast<const char*>(&token), sizeof token, 0) != 0) {
            if (errno != EINTR)
                syscall_failed("mq_send");
            on_interrupted("mq_send");
        }
    }
    uint64_t recv() override {
        uint64_t token = 0;
        for (;;) {
            ssize_t n = mq_receive(queue_, reinterpret_cast<char*>(&token), sizeof token, nullptr);
            if (n == sizeof token)
                return token;
            if (n < 0 && errno == EINTR) {
                on_interrupted("mq_receive");
                continue;
            }
            if (n < 0)
                syscall_failed("mq_receive");
            throw tk::UserError("mq_receive: message of " + std::to_string(n) +
                                " bytes, expected 8");
        }
    }

  private:
    mqd_t queue_;
};

// A real-time signal queued with sigqueue (the token is the signal's value) and taken with
// sigwaitinfo. The signal stays blocked, so it is only ever consumed by sigwaitinfo and
// never runs a handler; blocking it before fork makes the child inherit the mask.
class SignalLink : public Link {
  public:
    SignalLink() : signo_(SIGRTMIN) {
        sigemptyset(&set_);
        sigaddset(&set_, signo_);
        if (sigprocmask(SIG_BLOCK, &set_, nullptr) != 0)
            syscall_failed("sigprocmask");
        receiver_ = getpid();
    }
    void set_receiver(pid_t pid) override { receiver_ = pid; }

    void send(uint64_t token) override {
        union sigval value;
        value.sival_ptr = reinterpret_cast<void*>(token);
        while (sigqueue(receiver_, signo_, value) != 0) {
            if (errno != EINTR)
                syscall_failed("sigqueue");
            on_interrupted("sigqueue");
        }
    }
    uint64_t recv() override {
        for (;;) {
            siginfo_t info;
            int got = sigwaitinfo(&set_, &info);
            if (got == signo_) {
                if (info.si_code != SI_QUEUE)
                    throw tk::UserError("sigwaitinfo: signal " + std::to_string(got) +
                                        " not sent by sigqueue (si_code " +
                                        std::to_string(info.si_code) +
                                        "): something else signals this process");
                return reinterpret_cast<uint64_t>(info.si_value.sival_ptr);
            }
            if (got < 0 && errno == EINTR) {
                on_interrupted("sigwaitinfo");
                continue;
            }
            syscall_failed("sigwaitinfo");
        }
    }

  private:
    int signo_;
    sigset_t set_;
    pid_t receiver_;
};

}  // namespace

LinkPair make_mqueue_links() {
    return {std::make_unique<MqueueLink>(), std::make_unique<MqueueLink>()};
}
LinkPair make_signal_links() {
    return {std::make_unique<SignalLink>(), std::make_unique<SignalLink>()};
}

}  // namespace pp
