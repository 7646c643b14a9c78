// Test workload for lockwait-trace: threads that map and unmap memory as fast as they can,
// so they contend for their process's mmap_lock (a kernel rwsem), which
// lock:contention_begin/end report.
//
//   lockwait-mmap-storm THREADS MILLISECONDS
#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 4;
    int ms = argc > 2 ? atoi(argv[2]) : 200;
    if (threads <= 0 || ms <= 0) {
        fprintf(stderr, "usage: lockwait-mmap-storm THREADS MILLISECONDS\n");
        return 2;
    }
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    std::atomic<long> maps{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; t++)
        pool.emplace_back([&] {
            while (std::chrono::steady_clock::now() < end) {
                void* p = mmap(nullptr, 1 << 16, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                    continue;
                static_cast<volatile char*>(p)[0] = 1;  // fault it in: mmap_lock for reading
                munmap(p, 1 << 16);
                maps++;
            }
        });
    for (auto& t : pool)
        t.join();
    printf("maps=%ld\n", maps.load());
    return 0;
}
