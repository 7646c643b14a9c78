// The hand-written x86-64 context switch (coro_switch.S) and the stack setup that lets a
// fresh stack be switched to.
#pragma once

#include <cstddef>

extern "C" {
// Saves callee-saved registers and the stack pointer into *save_sp, switches to load_sp.
void coro_switch(void** save_sp, void* load_sp);
void coro_trampoline();
}

namespace wl {

using CoroEntry = void (*)(void* arg);

// Lays out a fresh stack [base, base + size) so that the first coro_switch to the returned
// stack pointer starts entry(arg) with a correctly aligned stack. entry must never return.
void* coro_prepare_stack(void* base, size_t size, CoroEntry entry, void* arg);

}  // namespace wl
