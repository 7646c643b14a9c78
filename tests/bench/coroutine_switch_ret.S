/*
 * For comparison only: coro_switch as it would be with a plain `ret` at the end. Identical to
 * workloads/coro/coro_switch.S except for the last instruction, so the benchmark shows
 * what the return-stack misprediction costs (see the comment there).
 *
 *   void coro_switch_with_ret(void** save_sp, void* load_sp);
 */
    .text
    .globl  coro_switch_with_ret
    .type   coro_switch_with_ret, @function
    .p2align 4
coro_switch_with_ret:
    pushq   %rbp
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    movq    %rsp, (%rdi)
    movq    %rsi, %rsp
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    ret
    .size   coro_switch_with_ret, .-coro_switch_with_ret

    .section .note.GNU-stack, "", @progbits
