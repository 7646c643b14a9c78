// System call numbers the probes compare against, where the C library's headers lack them.
#pragma once

namespace tk {

// The futex2 calls have one number on every architecture (the generic syscall table); Debian
// 12's glibc headers predate them. futex(2)'s own is SYS_futex.
inline constexpr long kSysFutexWaitv = 449;
inline constexpr long kSysFutexWake = 454;
inline constexpr long kSysFutexWait = 455;
inline constexpr long kSysFutexRequeue = 456;

}  // namespace tk
