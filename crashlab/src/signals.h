// Signal numbers and si_code values in words: "SIGSEGV", "SEGV_MAPERR: address not mapped".
#pragma once

#include <string>

namespace crashlab {

std::string signal_name(int signo);         // "SIGSEGV", "SIG37" for the unnamed
std::string signal_description(int signo);  // "segmentation fault"

struct CodeName {
    std::string name;         // "SEGV_MAPERR", "SI_TKILL"
    std::string description;  // "address not mapped to an object", "sent by tkill/tgkill"
};
CodeName signal_code(int signo, int code);

// True for the signals a CPU fault raises (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP).
bool is_fault_signal(int signo);

}  // namespace crashlab
