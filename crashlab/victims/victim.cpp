// crashlab-victim: crashes on purpose, one kind of crash per run.
//
//   crashlab-victim KIND            crash in the main thread
//   crashlab-victim KIND --thread   crash in a worker thread while three other threads wait
//
// Every kind is a small, realistic piece of code (a config loader, a session table ...)
// whose bug produces the crash; the analyser has to find it from the core alone. The lines
// that crash carry a "@crash KIND" marker: the tests read this file to learn which line
// the analysis must name, so they never hard-code line numbers.
//
// Values that would let the compiler see the bug (a NULL pointer, a zero divisor) come
// from volatile globals: otherwise GCC at -O2 replaces the faulting access with a trap
// or deletes it, and the -O2 build would no longer crash the way the kind says.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cassert>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "kinds.h"

#define NOINLINE __attribute__((noinline))

#ifdef CRASHLAB_VICTIM_REBUILT
// The next version of the program: one function more, unrelated to any crash, ahead of
// all the others, so that every function after it moves (its module offsets change) while
// the names stay. The bucket tests check that each crash keeps its bucket.
NOINLINE unsigned long crc_of_banner(const char* s) {
    unsigned long crc = ~0ul;
    for (; *s; s++) {
        crc ^= static_cast<unsigned char>(*s);
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320ul & (0ul - (crc & 1)));
    }
    return ~crc;
}
#endif

// ---- null-read: a config loader that forgot the "not found" case ---------------------------
struct Config {
    int version;
    int flags;
    long limit;  // offset 8: the fault address is 0x8
};
Config* volatile g_config = nullptr;  // "lookup failed"

static inline long config_limit(const Config* c) {
    return c->limit;  // @crash null-read
}
NOINLINE long load_config() {
    return config_limit(g_config) * 2;
}

// ---- null-write: resetting a node of a list that is not there ------------------------------
struct Node {
    int key;
    Node* next;
    long hits;  // offset 16
};
Node* volatile g_cache_head = nullptr;

static inline void reset_hits(Node* n) {
    n->hits = 0;  // @crash null-write
}
NOINLINE void clear_cache() {
    reset_hits(g_cache_head);
}

// ---- null-call: an event handler that was never registered ---------------------------------
using Handler = void (*)(int);
Handler volatile g_on_event = nullptr;
volatile int g_dispatched = 0;

NOINLINE void dispatch_event(int ev) {
    g_on_event(ev);                   // @crash null-call
    g_dispatched = g_dispatched + 1;  // keeps the call a call (no tail jump)
}

// ---- stack-overflow: recursion without a base case ----------------------------------------
// About 96 bytes of frame at -O0: the default 8 MiB stack holds some 87,000 of them.
NOINLINE unsigned recurse(unsigned depth) {  // @crash-alt stack-overflow
    volatile char pad[56];
    pad[0] = char(depth);                // @crash-alt stack-overflow
    return recurse(depth + 1) + pad[0];  // @crash stack-overflow
}

// ---- write-readonly: patching a string literal ---------------------------------------------
const char* volatile g_banner = "crashlab banner";

NOINLINE void capitalize_banner() {
    char* p = const_cast<char*>(g_banner);
    p[0] = 'C';  // @crash write-readonly
}

// ---- exec-nonexec: calling into a data buffer -----------------------------------------------
// A "JIT" that forgot mprotect(PROT_EXEC): the code sits in .data, which is not executable.
unsigned char g_jit_code[64] = {0xc3};  // ret
using JitFn = void (*)();
JitFn volatile g_jit_entry = nullptr;

NOINLINE void run_jit() {
    g_jit_entry = reinterpret_cast<JitFn>(g_jit_code);
    g_jit_entry();  // @crash exec-nonexec
    g_dispatched = g_dispatched + 1;
}

// ---- use-after-free: a session read after it was closed -------------------------------------
// The session is larger than malloc's mmap threshold (128 KiB), so free() unmaps it and the
// stale read faults every time instead of silently reading recycled memory.
struct Session {
    long id;
    long bytes_sent;
    char buffer[256 * 1024];
};
Session* volatile g_session = nullptr;

NOINLINE void close_session(Session* s) {
    delete s;
}
NOINLINE long session_bytes() {
    Session* s = g_session;
    return s->bytes_sent;  // @crash use-after-free
}
NOINLINE long finish_session() {
    g_session = new Session{42, 1000, {}};
    close_session(g_session);
    return session_bytes();
}

// ---- double-free, invalid-free, heap-corruption ---------------------------------------------
char* volatile g_token = nullptr;

volatile int g_live_tokens = 0;

NOINLINE void release_token(char* t) {
    free(t);  // @crash double-free
    g_live_tokens = g_live_tokens - 1;
}
NOINLINE void logout() {
    g_token = static_cast<char*>(malloc(48));
    g_live_tokens = g_live_tokens + 1;
    release_token(g_token);
    release_token(g_token);  // the second release
    g_token = nullptr;
}

volatile int g_names_freed = 0;

NOINLINE void free_name(char* name) {
    free(name);  // @crash invalid-free
    g_names_freed = g_names_freed + 1;
}
NOINLINE void rename_user() {
    char* name = strdup("operator");
    free_name(name + 1);  // skipped the first character, then freed the wrong pointer
    g_names_freed = g_names_freed + 1;
}

volatile size_t g_record_len = 2000 + 16;  // 16 bytes too many
char* volatile g_records[2];

NOINLINE void store_record() {
    // A 2000-byte block comes from the top of the heap, so the overrun lands on the size
    // field of the top chunk; the next large malloc() checks it and aborts.
    char* record = static_cast<char*>(malloc(2000));
    g_records[0] = record;
    memset(record, 0xff, g_record_len);
    char* next = static_cast<char*>(malloc(8000));  // @crash heap-corruption
    g_records[1] = next;
}

// ---- abort, assert, stack-smash --------------------------------------------------------------
NOINLINE void shutdown_on_error() {
    abort();  // @crash abort
}

volatile long g_balance = -5;

NOINLINE void withdraw(long amount) {
    long balance = g_balance - amount;
    assert(balance >= 0 && "balance went negative");  // @crash assert
    g_balance = balance;
}

volatile size_t g_name_len = 64;
const char* const kLongUserName =
    "a user name that is much longer than sixteen bytes, long enough to run over the canary";

NOINLINE void copy_username(const char* src) {
    char name[16];
    memcpy(name, src, g_name_len);
    g_dispatched = name[3];
}  // @crash stack-smash

// ---- div-zero, div-overflow, trap ------------------------------------------------------------
volatile int g_samples = 0;
volatile int g_total = 1234;
volatile int g_dividend = INT_MIN;
volatile int g_divisor = -1;

NOINLINE int average(int total, int count) {
    return total / count;  // @crash div-zero
}
NOINLINE int scale(int value, int factor) {
    return value / factor;  // @crash div-overflow
}
NOINLINE void unreachable_state() {
    __builtin_trap();  // @crash trap
}

// ---- bus-error: the file shrank under its mapping --------------------------------------------
NOINLINE int read_trailer() {
    const char* path = "bus-error.dat";  // in the working directory (the crash directory)
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        std::string tmp =
            std::string(getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp") + "/crashlab-bus-error.dat";
        fd = open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    }
    if (fd < 0 || ftruncate(fd, 4096) != 0) {
        perror("crashlab-victim: bus-error needs a writable file");
        exit(2);
    }
    // Two pages mapped, one page of file: the second page has no file behind it.
    auto* data = static_cast<volatile char*>(mmap(nullptr, 8192, PROT_READ, MAP_SHARED, fd, 0));
    if (data == MAP_FAILED) {
        perror("crashlab-victim: mmap");
        exit(2);
    }
    return data[4096 + 16];  // @crash bus-error
}

// ---- uncaught-exception, terminate, pure-virtual ---------------------------------------------
volatile bool g_config_missing = true;
const char* const kSettingsMissing = "settings file not found: /etc/crashlab.conf";

NOINLINE void load_settings() {
    if (g_config_missing)
        throw std::runtime_error(kSettingsMissing);  // @crash uncaught-exception
}

NOINLINE void flush_journal() {
    if (g_config_missing)
        throw std::logic_error("journal already closed");  // @crash terminate
}
NOINLINE void close_journal() noexcept {
    flush_journal();
}

struct Job {
    virtual ~Job() { finish(); }
    NOINLINE void finish() {
        on_finish();  // @crash pure-virtual
        g_dispatched = g_dispatched + 1;
    }
    virtual void on_finish() = 0;
};
struct PrintJob : Job {
    void on_finish() override { g_dispatched = 1; }
};
NOINLINE void run_job() {
    Job* job = new PrintJob;
    delete job;  // ~PrintJob, then ~Job calls finish(): the object is a Job by then
}

// ---- deadlock: two threads, two locks, opposite order ----------------------------------------
std::mutex accounts_lock;
std::mutex audit_lock;
// Both threads hold their first lock before either asks for its second, so the deadlock
// happens every time rather than by luck.
pthread_barrier_t g_both_locked;

NOINLINE void transfer() {
    std::lock_guard<std::mutex> a(accounts_lock);
    pthread_barrier_wait(&g_both_locked);
    std::lock_guard<std::mutex> b(audit_lock);  // @crash deadlock
    g_dispatched = 1;
}
NOINLINE void audit() {
    std::lock_guard<std::mutex> a(audit_lock);
    pthread_barrier_wait(&g_both_locked);
    std::lock_guard<std::mutex> b(accounts_lock);  // @crash deadlock
    g_dispatched = 2;
}
NOINLINE void run_deadlock() {
    pthread_barrier_init(&g_both_locked, nullptr, 2);
    std::thread t1(transfer);
    std::thread t2(audit);
    t1.join();
    t2.join();
}

// ---- hang: a busy loop waiting for a flag nobody sets ----------------------------------------
volatile bool g_ready = false;
volatile unsigned long g_spins = 0;

NOINLINE void wait_until_ready() {
    while (!g_ready)            // @crash hang
        g_spins = g_spins + 1;  // @crash hang
}

// ---- external-signal: killed by another process ----------------------------------------------
NOINLINE void wait_for_work() {
    // SIGSEGV is blocked until sigsuspend(), so the helper's kill() lands here and only
    // here: the core shows this thread waiting, not somewhere in fork().
    sigset_t segv, old;
    sigemptyset(&segv);
    sigaddset(&segv, SIGSEGV);
    pthread_sigmask(SIG_BLOCK, &segv, &old);
    pid_t me = getpid();
    pid_t helper = fork();
    if (helper == 0) {
        kill(me, SIGSEGV);
        _exit(0);
    }
    waitpid(helper, nullptr, 0);
    sigdelset(&old, SIGSEGV);
    sigsuspend(&old);  // @crash external-signal
}

// ---- driver ----------------------------------------------------------------------------------
namespace {

int crash(std::string_view kind) {
    if (kind == "null-read")
        return int(load_config());
    if (kind == "null-write")
        clear_cache();
    else if (kind == "null-call")
        dispatch_event(7);
    else if (kind == "stack-overflow")
        return int(recurse(0));
    else if (kind == "write-readonly")
        capitalize_banner();
    else if (kind == "exec-nonexec")
        run_jit();
    else if (kind == "use-after-free")
        return int(finish_session());
    else if (kind == "double-free")
        logout();
    else if (kind == "invalid-free")
        rename_user();
    else if (kind == "heap-corruption")
        store_record();
    else if (kind == "abort")
        shutdown_on_error();
    else if (kind == "assert")
        withdraw(10);
    else if (kind == "stack-smash")
        copy_username(kLongUserName);
    else if (kind == "div-zero")
        return average(g_total, g_samples);
    else if (kind == "div-overflow")
        return scale(g_dividend, g_divisor);
    else if (kind == "trap")
        unreachable_state();
    else if (kind == "bus-error")
        return read_trailer();
    else if (kind == "uncaught-exception")
        load_settings();
    else if (kind == "terminate")
        close_journal();
    else if (kind == "pure-virtual")
        run_job();
    else if (kind == "deadlock")
        run_deadlock();
    else if (kind == "hang")
        wait_until_ready();
    else if (kind == "external-signal")
        wait_for_work();
    return 0;
}

// The bystanders of --thread: blocked in read() on a pipe nobody writes to, with every
// signal blocked so that a process-directed signal (kill, the --timeout SIGABRT) is
// delivered to the main thread or the worker, as it would be in a real server.
int g_idle_pipe[2];

void* idle_thread(void*) {
    char c;
    while (read(g_idle_pipe[0], &c, 1) < 0) {
    }
    return nullptr;
}

int run_in_threads(std::string_view kind) {
    int result = 0;
    if (pipe(g_idle_pipe) != 0) {
        perror("crashlab-victim: pipe");
        return 2;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    std::vector<pthread_t> idle(3);
    for (pthread_t& t : idle)
        pthread_create(&t, nullptr, idle_thread, nullptr);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    // The main thread only joins: a kill(SIGSEGV) (external-signal) goes to the worker.
    // Blocked before the worker starts, so there is no window; the worker inherits the
    // mask, which does not matter for faults (the kernel forces those through).
    sigset_t segv;
    sigemptyset(&segv);
    sigaddset(&segv, SIGSEGV);
    pthread_sigmask(SIG_BLOCK, &segv, nullptr);
    std::thread worker([&] { result = crash(kind); });
    worker.join();
    return result;
}

void usage() {
    fprintf(stderr, "usage: crashlab-victim KIND [--thread]\nkinds:");
    for (const crashlab::KindInfo& k : crashlab::all_kinds())
        if (k.triggered)
            fprintf(stderr, " %.*s", int(k.name.size()), k.name.data());
    fprintf(stderr, "\n");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        usage();
        return 2;
    }
    std::string_view kind = argv[1];
    const crashlab::KindInfo* info = crashlab::find_kind(kind);
    bool thread = argc == 3 && std::string_view(argv[2]) == "--thread";
    if (!info || !info->triggered || (argc == 3 && !thread)) {
        usage();
        return 2;
    }
    int r = thread ? run_in_threads(kind) : crash(kind);
    fprintf(stderr, "crashlab-victim: %s did not crash (result %d)\n", argv[1], r);
    return 1;
}
