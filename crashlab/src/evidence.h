// Evidence the C and C++ runtimes leave in memory, read from the core:
//   - glibc's __abort_msg: the text of malloc's and assert's complaints;
//   - libstdc++'s per-thread exception globals: the type (and what()) of the exception
//     that reached std::terminate;
//   - pthread mutexes that blocked threads wait on, with their owners (for deadlocks).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "address_space.h"
#include "analysis.h"

namespace crashlab {

// glibc sets __abort_msg (struct abort_msg_s { unsigned size; char msg[]; } *) before it
// aborts on a malloc check or a failed assert. "" when there is none.
std::string read_abort_message(const AddressSpace& memory);

// The exception being handled by the thread with REGS, from libstdc++'s thread-local
// __cxa_eh_globals (found by decoding __cxa_get_globals, which computes its address).
std::optional<ExceptionInfo> read_current_exception(const AddressSpace& memory,
                                                    const user_regs_struct& regs);

// Threads blocked in futex() on a pthread mutex (their backtrace is in the lock path),
// each with the mutex's name and owner.
std::vector<LockWait> find_lock_waits(const AddressSpace& memory,
                                      const std::vector<ThreadReport>& threads);

// A cycle in the wait-for graph (thread -> owner of the mutex it waits for), as indexes
// into WAITS in order; empty when there is none.
std::vector<size_t> find_wait_cycle(const std::vector<LockWait>& waits);

}  // namespace crashlab
