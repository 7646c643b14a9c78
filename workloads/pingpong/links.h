// The link factories behind the registry in registry.cpp.
#pragma once

#include "pingpong/link.h"

namespace pp {

LinkPair make_pipe_links();
LinkPair make_socketpair_links();
LinkPair make_eventfd_links();
// shared = true: futex words and semaphores live in MAP_SHARED memory and use the
// process-shared kernel paths (non-private futexes); false: private, for threads.
LinkPair make_futex_links(bool shared);
LinkPair make_posix_sem_links(bool shared);
LinkPair make_sysv_sem_links();
LinkPair make_condvar_links();
LinkPair make_mqueue_links();
LinkPair make_signal_links();

}  // namespace pp
