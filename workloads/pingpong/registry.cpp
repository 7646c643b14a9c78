// Every kernel model/IPC combination pingpong can run, in the order --list prints them.
#include "errors.h"
#include "pingpong/links.h"

namespace pp {

volatile std::sig_atomic_t g_partner_exited = 0;

const char* model_name(Model m) {
    switch (m) {
        case Model::process:
            return "process";
        case Model::thread:
            return "thread";
        case Model::coroutine:
            return "coroutine";
    }
    return "?";
}

void on_interrupted(const char* what) {
    if (g_partner_exited)
        throw tk::UserError(std::string(what) +
                            " interrupted: the partner process exited before the end of the "
                            "ping-pong");
}

void syscall_failed(const std::string& what) {
    throw tk::UserError(tk::errno_text(what));
}

const std::vector<KernelIpc>& kernel_ipcs() {
    static const std::vector<KernelIpc> table = {
        {Model::process, "pipe", "two pipes, 8-byte write/read", make_pipe_links},
        {Model::process, "socketpair", "one UNIX stream socketpair, write/read",
         make_socketpair_links},
        {Model::process, "eventfd", "two eventfds, the token is the counter value",
         make_eventfd_links},
        {Model::process, "futex", "shared-memory futex words, FUTEX_WAIT/FUTEX_WAKE",
         [] { return make_futex_links(true); }},
        {Model::process, "posix-sem", "process-shared sem_t in shared memory, sem_post/sem_wait",
         [] { return make_posix_sem_links(true); }},
        {Model::process, "sysv-sem", "System V semaphores, semop +1/-1", make_sysv_sem_links},
        {Model::process, "mqueue", "two POSIX message queues, mq_send/mq_receive",
         make_mqueue_links},
        {Model::process, "signal", "SIGRTMIN with sigqueue, taken by sigwaitinfo",
         make_signal_links},
        {Model::thread, "futex", "private futex words, FUTEX_WAIT/FUTEX_WAKE",
         [] { return make_futex_links(false); }},
        {Model::thread, "condvar", "std::mutex + std::condition_variable per direction",
         make_condvar_links},
        {Model::thread, "pipe", "two pipes, 8-byte write/read", make_pipe_links},
        {Model::thread, "eventfd", "two eventfds, the token is the counter value",
         make_eventfd_links},
        {Model::thread, "semaphore", "sem_t per direction, sem_post/sem_wait",
         [] { return make_posix_sem_links(false); }},
    };
    return table;
}

}  // namespace pp
