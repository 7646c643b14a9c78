// Many (cgroup, command) pairs for the exporter's scaling benchmark (exporter-overhead
// --scale): THREADS threads named PREFIX-0, PREFIX-1 ..., each waking every 20 ms (so each
// pair keeps switching) until the process is killed.
//   named-threads PREFIX THREADS
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: named-threads PREFIX THREADS\n");
        return 2;
    }
    std::string prefix = argv[1];
    int n = atoi(argv[2]);
    std::vector<std::thread> threads;
    for (int i = 0; i < n; i++)
        threads.emplace_back([&prefix, i] {
            std::string name = (prefix + "-" + std::to_string(i)).substr(0, 15);
            pthread_setname_np(pthread_self(), name.c_str());
            struct timespec ts = {0, 20 * 1000 * 1000};
            for (;;)
                nanosleep(&ts, nullptr);
        });
    for (auto& t : threads)
        t.join();
}
