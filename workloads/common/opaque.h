// OPAQUE: a function the compiler must call as written, so that a measured loop keeps its
// calls (no inlining, no cloning, no conclusions drawn from its body at the call sites).
// GCC says exactly that with noipa. Clang has no such attribute: there, noinline keeps the
// call and optnone keeps clang from inferring the body has no effect (it would delete
// calls to an empty function even when not inlined); the body is then left unoptimised.
#pragma once

#if defined(__clang__)
#define OPAQUE __attribute__((noinline, optnone))
#else
#define OPAQUE __attribute__((noipa))
#endif
