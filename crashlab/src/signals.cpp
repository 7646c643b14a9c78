#include "signals.h"

#include <signal.h>

#include <cstring>

namespace crashlab {

std::string signal_name(int signo) {
    // sigabbrev_np (glibc 2.32) knows the names without "SIG".
    if (const char* abbrev = sigabbrev_np(signo))
        return std::string("SIG") + abbrev;
    if (signo >= SIGRTMIN && signo <= SIGRTMAX)
        return "SIGRTMIN+" + std::to_string(signo - SIGRTMIN);
    return "SIG" + std::to_string(signo);
}

std::string signal_description(int signo) {
    const char* d = sigdescr_np(signo);
    return d ? d : "unknown signal";
}

bool is_fault_signal(int signo) {
    return signo == SIGSEGV || signo == SIGBUS || signo == SIGFPE || signo == SIGILL ||
           signo == SIGTRAP;
}

CodeName signal_code(int signo, int code) {
    // Codes <= 0 and SI_KERNEL mean the same for every signal: who sent it.
    switch (code) {
        case SI_USER:
            return {"SI_USER", "sent by kill() from a process"};
        case SI_KERNEL:
            return {"SI_KERNEL", "sent by the kernel"};
        case SI_QUEUE:
            return {"SI_QUEUE", "sent by sigqueue()"};
        case SI_TIMER:
            return {"SI_TIMER", "a POSIX timer expired"};
        case SI_MESGQ:
            return {"SI_MESGQ", "a message queue state changed"};
        case SI_ASYNCIO:
            return {"SI_ASYNCIO", "asynchronous I/O completed"};
        case SI_SIGIO:
            return {"SI_SIGIO", "queued SIGIO"};
        case SI_TKILL:
            return {"SI_TKILL", "sent by tkill()/tgkill() to one thread"};
        default:
            break;
    }
    struct Entry {
        int signo, code;
        const char *name, *description;
    };
    static const Entry table[] = {
        {SIGSEGV, SEGV_MAPERR, "SEGV_MAPERR", "address not mapped to an object"},
        {SIGSEGV, SEGV_ACCERR, "SEGV_ACCERR", "invalid permissions for the mapped object"},
        {SIGSEGV, SEGV_BNDERR, "SEGV_BNDERR", "failed address bound checks"},
        {SIGSEGV, SEGV_PKUERR, "SEGV_PKUERR", "access denied by memory protection keys"},
        {SIGSEGV, 5, "SEGV_ACCADI", "ADI not enabled for mapped object"},
        {SIGSEGV, 8, "SEGV_MTEAERR", "asynchronous MTE error"},
        {SIGSEGV, 9, "SEGV_MTESERR", "synchronous MTE error"},
        {SIGSEGV, 10, "SEGV_CPERR", "control protection fault (shadow stack)"},
        {SIGBUS, BUS_ADRALN, "BUS_ADRALN", "invalid address alignment"},
        {SIGBUS, BUS_ADRERR, "BUS_ADRERR",
         "nonexistent physical address (e.g. past the end "
         "of a mapped file)"},
        {SIGBUS, BUS_OBJERR, "BUS_OBJERR", "object-specific hardware error"},
        {SIGBUS, BUS_MCEERR_AR, "BUS_MCEERR_AR", "hardware memory error consumed"},
        {SIGBUS, BUS_MCEERR_AO, "BUS_MCEERR_AO", "hardware memory error detected"},
        {SIGFPE, FPE_INTDIV, "FPE_INTDIV", "integer divide error"},
        {SIGFPE, FPE_INTOVF, "FPE_INTOVF", "integer overflow"},
        {SIGFPE, FPE_FLTDIV, "FPE_FLTDIV", "floating-point divide by zero"},
        {SIGFPE, FPE_FLTOVF, "FPE_FLTOVF", "floating-point overflow"},
        {SIGFPE, FPE_FLTUND, "FPE_FLTUND", "floating-point underflow"},
        {SIGFPE, FPE_FLTRES, "FPE_FLTRES", "floating-point inexact result"},
        {SIGFPE, FPE_FLTINV, "FPE_FLTINV", "invalid floating-point operation"},
        {SIGFPE, FPE_FLTSUB, "FPE_FLTSUB", "subscript out of range"},
        {SIGILL, ILL_ILLOPC, "ILL_ILLOPC", "illegal opcode"},
        {SIGILL, ILL_ILLOPN, "ILL_ILLOPN", "illegal operand"},
        {SIGILL, ILL_ILLADR, "ILL_ILLADR", "illegal addressing mode"},
        {SIGILL, ILL_ILLTRP, "ILL_ILLTRP", "illegal trap"},
        {SIGILL, ILL_PRVOPC, "ILL_PRVOPC", "privileged opcode"},
        {SIGILL, ILL_PRVREG, "ILL_PRVREG", "privileged register"},
        {SIGILL, ILL_COPROC, "ILL_COPROC", "coprocessor error"},
        {SIGILL, ILL_BADSTK, "ILL_BADSTK", "internal stack error"},
        {SIGTRAP, TRAP_BRKPT, "TRAP_BRKPT", "process breakpoint"},
        {SIGTRAP, TRAP_TRACE, "TRAP_TRACE", "process trace trap"},
        {SIGCHLD, CLD_EXITED, "CLD_EXITED", "child exited"},
        {SIGCHLD, CLD_KILLED, "CLD_KILLED", "child killed"},
        {SIGCHLD, CLD_DUMPED, "CLD_DUMPED", "child dumped core"},
    };
    for (const Entry& e : table)
        if (e.signo == signo && e.code == code)
            return {e.name, e.description};
    return {"code " + std::to_string(code), "unknown si_code"};
}

}  // namespace crashlab
