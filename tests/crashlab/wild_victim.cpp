// A crash no victim kind produces on purpose: a load through a non-canonical pointer
// (bits 47-63 not all equal), which x86-64 reports as a general protection fault: SIGSEGV
// with si_code SI_KERNEL and si_addr 0. The analyser must recompute the address from the
// instruction. Used by corrupt_test.cpp's NonCanonicalPointer test.
#include <cstdint>

struct Record {
    long id;
    long value;
};

Record* volatile g_record = reinterpret_cast<Record*>(uintptr_t(0x4141414141414141));

__attribute__((noinline)) long read_value(Record* r) {
    return r->value;  // the fault: [reg + 8] with reg = 0x4141414141414141
}

int main() {
    return int(read_value(g_record));
}
