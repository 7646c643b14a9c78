// One direction of a ping-pong channel, over one kernel IPC mechanism.
//
// A round trip uses two links: ping -> pong and pong -> ping. The sender hands over one
// 64-bit token, the receiver blocks until it arrives. Links carry the token in the message
// itself where the mechanism has a payload (pipe, socket, eventfd, mqueue, signal value);
// the payload-less ones (futex, semaphores, condition variable) write it to a slot in
// memory shared by both sides before waking the receiver. Strict alternation makes one
// slot per direction enough.
//
// Baseline: send() and then recv() on the same link from one task is the same library and
// system calls without a partner blocking (the data is already there), the way lmbench's
// lat_ctx measures its overhead with both pipe ends in one process.
#pragma once

#include <sys/types.h>

#include <csignal>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace pp {

// Ends the pong loop. Real tokens count up from 1, so they never reach it; it stays below
// eventfd's largest counter value (2^64 - 2).
inline constexpr uint64_t kStop = 0x7fffffffffffffffull;

enum class Model { process, thread, coroutine };
const char* model_name(Model m);

class Link {
  public:
    virtual ~Link() = default;
    virtual void send(uint64_t token) = 0;
    virtual uint64_t recv() = 0;  // blocks until a token arrives
    // Processes: tell the link who receives on it (the signal link sends to a pid). Called
    // before the baseline with the own pid, and on both sides after fork.
    virtual void set_receiver(pid_t) {}
    // Processes, after fork: drop what this side does not use (a pipe's other end), so a
    // partner that dies shows up as end-of-file instead of a hang.
    virtual void keep_sender_side() {}
    virtual void keep_receiver_side() {}
};

struct LinkPair {
    std::unique_ptr<Link> ping_to_pong;
    std::unique_ptr<Link> pong_to_ping;
};

// One model/IPC combination: how to build its two links, what it uses.
struct KernelIpc {
    Model model;
    std::string name;
    std::string description;
    std::function<LinkPair()> make;
};

const std::vector<KernelIpc>& kernel_ipcs();

// Set by the SIGCHLD handler of the process model: a blocked recv() that returns EINTR
// checks it and gives up instead of waiting for a partner that is gone.
extern volatile std::sig_atomic_t g_partner_exited;
// Called by links on EINTR: throws if the partner is gone, otherwise the call is retried.
void on_interrupted(const char* what);
// Throws tk::UserError "what: strerror(errno)" (a failed system call in a link).
[[noreturn]] void syscall_failed(const std::string& what);

}  // namespace pp
