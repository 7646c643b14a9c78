/*
 * The contended locks, as named global variables on a page of their own.
 *
 * The lock-wait tracer sees a futex address and names it from the symbol table, so every
 * lock here is a real global symbol with its true size (g_contended_mutex ...). They fill
 * one page-aligned page and nothing else shares it: for the process model the workload maps
 * a MAP_SHARED page over exactly this page before forking, so the parent and every child
 * use the same lock at the same address, and that address still falls on the symbol.
 *
 * Each lock has its own 64-byte cache line; the data the locks protect follows. Sizes are
 * checked against the C types by static_asserts in locks.cpp.
 */
    .section .bss.contended_locks, "aw", @nobits
    .balign 4096

    /* g_contended_mutex starts the page; there is deliberately no symbol for the page
       itself, which would share its address and could be picked instead by a symbolizer */
    .globl  g_contended_mutex
    .type   g_contended_mutex, @object
    .size   g_contended_mutex, 40           /* pthread_mutex_t */
g_contended_mutex:
    .zero   64

    .globl  g_contended_spinlock
    .type   g_contended_spinlock, @object
    .size   g_contended_spinlock, 4         /* pthread_spinlock_t */
g_contended_spinlock:
    .zero   64

    .globl  g_contended_rwlock
    .type   g_contended_rwlock, @object
    .size   g_contended_rwlock, 56          /* pthread_rwlock_t */
g_contended_rwlock:
    .zero   64

    .globl  g_contended_not_empty
    .type   g_contended_not_empty, @object
    .size   g_contended_not_empty, 48       /* pthread_cond_t */
g_contended_not_empty:
    .zero   64

    .globl  g_contended_not_full
    .type   g_contended_not_full, @object
    .size   g_contended_not_full, 48        /* pthread_cond_t */
g_contended_not_full:
    .zero   64

    .globl  g_contended_sem
    .type   g_contended_sem, @object
    .size   g_contended_sem, 32             /* sem_t */
g_contended_sem:
    .zero   64

    .globl  g_guarded
    .type   g_guarded, @object
    .size   g_guarded, 3072                 /* GuardedData, what the locks protect */
g_guarded:
    .zero   3072

    .balign 4096                            /* the rest of the page stays ours */

    .section .note.GNU-stack, "", @progbits
