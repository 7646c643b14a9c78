/*
 * coro_switch: the hand-written x86-64 user-space context switch.
 *
 *   void coro_switch(void** save_sp, void* load_sp);
 *
 * Saves the callee-saved registers of the System V ABI (rbp, rbx, r12-r15) on the current
 * stack, stores the stack pointer in *save_sp, loads load_sp (a stack pointer saved by an
 * earlier coro_switch, or prepared by coro_prepare_stack) and restores that stack's
 * registers, and jumps to the return address saved on that stack: execution continues wherever
 * that stack left off. Everything else is caller-saved, so the compiler has already spilled
 * what it needs across this call.
 *
 * Why `pop; jmp *` and not `ret`: the return-stack predictor expects a `ret` here to go back
 * to this call's caller, but it goes to the other stack's caller, so a `ret` mispredicts on
 * every switch. That alone cost about 6 ns per switch on the development machine (9 ns with
 * `ret`, under 3 ns with the indirect jump, which the branch predictor learns from the
 * alternating pattern); Boost.Context's fcontext does the same. See docs/perf-workloads.md.
 *
 * Not saved, on purpose: the x87 control word and MXCSR (rounding mode, exception masks).
 * Coroutines that switch here must not change them; Boost.Context saves them at the cost of
 * two more instructions each way. Not shadow-stack (CET) aware either: the object carries no
 * SHSTK property note, so the linker never marks a binary using it as shadow-stack ready.
 *
 * It is a global, non-inlined function with a fixed name so that a uprobe can attach to it
 * by symbol (ctxswitch-trace counts user-level switches that way).
 */
    .text
    .globl  coro_switch
    .type   coro_switch, @function
    .p2align 4
coro_switch:
    .cfi_startproc
    pushq   %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbx, 0
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r12, 0
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r13, 0
    pushq   %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r14, 0
    pushq   %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r15, 0
    /* the switch itself: from here on we are on the other stack, whose frame has the same
       layout, so the unwind rules above stay true */
    movq    %rsp, (%rdi)
    movq    %rsi, %rsp
    popq    %r15
    .cfi_adjust_cfa_offset -8
    popq    %r14
    .cfi_adjust_cfa_offset -8
    popq    %r13
    .cfi_adjust_cfa_offset -8
    popq    %r12
    .cfi_adjust_cfa_offset -8
    popq    %rbx
    .cfi_adjust_cfa_offset -8
    popq    %rbp
    .cfi_adjust_cfa_offset -8
    popq    %rax
    .cfi_adjust_cfa_offset -8
    .cfi_register %rip, %rax
    jmpq    *%rax
    .cfi_endproc
    .size   coro_switch, .-coro_switch

/*
 * First code a new coroutine runs: coro_prepare_stack leaves the argument in r12 and the
 * entry function in r13, with rbp = 0 so frame-pointer walks stop here. The entry function
 * must never return (it switches away for the last time instead); if it does, trap.
 */
    .globl  coro_trampoline
    .type   coro_trampoline, @function
    .p2align 4
coro_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    movq    %r12, %rdi
    callq   *%r13
    ud2
    .cfi_endproc
    .size   coro_trampoline, .-coro_trampoline

    .section .note.GNU-stack, "", @progbits
