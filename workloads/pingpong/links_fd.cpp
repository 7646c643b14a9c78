// Links over file descriptors: pipe, UNIX socketpair, eventfd. The same code serves the
// process and the thread models.
#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"
#include "pingpong/links.h"

namespace pp {
namespace {

// An fd that may be shared by two links (a socketpair end is written by one direction and
// read by the other) and closed once.
class SharedFd {
  public:
    explicit SharedFd(int fd) : fd_(fd) {}
    ~SharedFd() { close_fd(); }
    int get() const { return fd_; }
    void close_fd() {
        if (fd_ >= 0)
            close(fd_);
        fd_ = -1;
    }

  private:
    int fd_;
};

// The token as 8 bytes written to one fd and read from another. Writes and reads of 8 bytes
// on a pipe or stream socket are not split in practice; a short transfer is reported as an
// error rather than silently retried, since it would mean the channel misbehaves.
class FdLink : public Link {
  public:
    FdLink(std::shared_ptr<SharedFd> write_end, std::shared_ptr<SharedFd> read_end,
           const char* what)
        : write_end_(std::move(write_end)), read_end_(std::move(read_end)), what_(what) {}

    void send(uint64_t token) override {
        for (;;) {
            ssize_t n = write(write_end_->get(), &token, sizeof token);
            if (n == sizeof token)
                return;
            if (n < 0 && errno == EINTR) {
                on_interrupted(what_);
                continue;
            }
            if (n < 0)
                syscall_failed(std::string(what_) + " write");
            throw tk::UserError(std::string(what_) + " write: short write of " + std::to_string(n) +
                                " bytes");
        }
    }

    uint64_t recv() override {
        for (;;) {
            uint64_t token = 0;
            ssize_t n = read(read_end_->get(), &token, sizeof token);
            if (n == sizeof token)
                return token;
            if (n < 0 && errno == EINTR) {
                on_interrupted(what_);
                continue;
            }
            if (n < 0)
                syscall_failed(std::string(what_) + " read");
            if (n == 0)
                throw tk::UserError(std::string(what_) +
                                    " read: end of file: the partner closed its end or exited");
            throw tk::UserError(std::string(what_) + " read: short read of " + std::to_string(n) +
                                " bytes");
        }
    }

    // An eventfd is one fd for both ends: nothing to drop.
    void keep_sender_side() override {
        if (read_end_ != write_end_)
            read_end_->close_fd();
    }
    void keep_receiver_side() override {
        if (read_end_ != write_end_)
            write_end_->close_fd();
    }

  private:
    std::shared_ptr<SharedFd> write_end_, read_end_;
    const char* what_;
};

std::unique_ptr<Link> pipe_link() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        syscall_failed("pipe");
    return std::make_unique<FdLink>(std::make_shared<SharedFd>(fds[1]),
                                    std::make_shared<SharedFd>(fds[0]), "pipe");
}

std::unique_ptr<Link> eventfd_link() {
    // Counter mode: write adds the token, read returns it and resets the counter to 0.
    int fd = eventfd(0, EFD_CLOEXEC);
    if (fd < 0)
        syscall_failed("eventfd");
    auto shared = std::make_shared<SharedFd>(fd);
    return std::make_unique<FdLink>(shared, shared, "eventfd");
}

}  // namespace

LinkPair make_pipe_links() {
    return {pipe_link(), pipe_link()};
}

LinkPair make_eventfd_links() {
    return {eventfd_link(), eventfd_link()};
}

LinkPair make_socketpair_links() {
    // One full-duplex UNIX stream socketpair, as a real program would use: ping writes on
    // end 0 and reads end 0, pong the same on end 1.
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        syscall_failed("socketpair");
    auto ping_end = std::make_shared<SharedFd>(sv[0]);
    auto pong_end = std::make_shared<SharedFd>(sv[1]);
    return {std::make_unique<FdLink>(ping_end, pong_end, "socketpair"),
            std::make_unique<FdLink>(pong_end, ping_end, "socketpair")};
}

}  // namespace pp
