#include "pools/executors.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

#include "common/child.h"
#include "common/work.h"
#include "errors.h"

namespace pools {
namespace {

template <class T>
class BlockingQueue {
  public:
    void push(const T& item) {
        {
            std::lock_guard lock(mutex_);
            items_.push_back(item);
        }
        cv_.notify_one();
    }
    T pop() {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return !items_.empty(); });
        T item = items_.front();
        items_.pop_front();
        return item;
    }

  private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<T> items_;
};

constexpr uint64_t kStopId = UINT64_MAX;

Completion complete(const Task& task, const TaskWork& work) {
    return {task.id, task.slot, int32_t(gettid()), run_task(work)};
}

// --- threads -------------------------------------------------------------------------------

class ThreadPool : public Executor {
  public:
    ThreadPool(unsigned slots, const TaskWork& work, const wl::CpuList& cpus) {
        for (unsigned i = 0; i < slots; i++)
            threads_.emplace_back([this, i, work, &cpus] {
                cpus.pin(i);
                for (;;) {
                    Task task = tasks_.pop();
                    if (task.id == kStopId)
                        return;
                    done_.push(complete(task, work));
                }
            });
    }
    ~ThreadPool() override { finish(); }
    void submit(const Task& task) override { tasks_.push(task); }
    Completion next_completion() override { return done_.pop(); }
    uint64_t finish() override {
        for (size_t i = 0; i < threads_.size(); i++)
            tasks_.push({kStopId, 0, 0});
        for (auto& t : threads_)
            t.join();
        threads_.clear();
        return 0;
    }

  private:
    BlockingQueue<Task> tasks_;
    BlockingQueue<Completion> done_;
    std::vector<std::thread> threads_;
};

class ThreadPerTask : public Executor {
  public:
    ThreadPerTask(unsigned slots, const TaskWork& work, const wl::CpuList& cpus)
        : slots_(slots), work_(work), cpus_(cpus) {}
    ~ThreadPerTask() override { finish(); }
    void submit(const Task& task) override {
        // The slot's previous thread has posted its completion; join it before reusing the slot.
        auto& slot = slots_[task.slot];
        if (slot.joinable())
            slot.join();
        slot = std::thread([this, task] {
            cpus_.pin(task.slot);
            done_.push(complete(task, work_));
        });
    }
    Completion next_completion() override { return done_.pop(); }
    uint64_t finish() override {
        for (auto& t : slots_)
            if (t.joinable())
                t.join();
        return 0;
    }

  private:
    std::vector<std::thread> slots_;
    TaskWork work_;
    const wl::CpuList& cpus_;
    BlockingQueue<Completion> done_;
};

// --- processes -----------------------------------------------------------------------------

void write_all(int fd, const void* data, size_t size, const char* what) {
    for (;;) {
        ssize_t n = write(fd, data, size);
        if (n == ssize_t(size))
            return;
        if (n < 0 && errno == EINTR)
            continue;
        throw tk::UserError(n < 0 ? tk::errno_text(what) : std::string(what) + ": short write");
    }
}

// Reads one record; false on end of file.
bool read_record(int fd, void* data, size_t size, const char* what) {
    for (;;) {
        ssize_t n = read(fd, data, size);
        if (n == ssize_t(size))
            return true;
        if (n == 0)
            return false;
        if (n < 0 && errno == EINTR)
            continue;
        throw tk::UserError(n < 0 ? tk::errno_text(what) : std::string(what) + ": short read");
    }
}

// fork() for a worker process: dies with the parent, never returns into the caller.
template <class Body>
pid_t fork_worker(Body body) {
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        throw tk::UserError(tk::errno_text("fork") + ": check the process limit (ulimit -u)");
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        int status = 1;
        try {
            status = body();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "pools: worker %d: %s\n", int(getpid()), e.what());
        }
        _exit(status);
    }
    return pid;
}

int reap(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            throw tk::UserError(tk::errno_text("waitpid"));
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

class CompletionPipe {
  public:
    CompletionPipe() {
        if (pipe2(fds_, O_CLOEXEC) != 0)
            throw tk::UserError(tk::errno_text("pipe"));
    }
    ~CompletionPipe() {
        close(fds_[0]);
        close(fds_[1]);
    }
    int read_end() const { return fds_[0]; }
    int write_end() const { return fds_[1]; }
    Completion next() {
        Completion c{};
        if (!read_record(fds_[0], &c, sizeof c, "reading a completion"))
            throw tk::UserError("completion pipe closed: a worker died, see its message above");
        return c;
    }

  private:
    int fds_[2];
};

class ProcessPool : public Executor {
  public:
    ProcessPool(unsigned slots, const TaskWork& work, const wl::CpuList& cpus) {
        for (unsigned i = 0; i < slots; i++) {
            int fds[2];
            if (pipe2(fds, O_CLOEXEC) != 0)
                throw tk::UserError(tk::errno_text("pipe"));
            task_write_.push_back(fds[1]);
            int my_read = fds[0];
            pids_.push_back(fork_worker([&, i, my_read] {
                // Keep only our task pipe's read end and the completion write end: if another
                // worker's task pipe stayed open here, that worker would never see EOF.
                for (int fd : task_write_)
                    close(fd);
                close(done_.read_end());
                cpus.pin(i);
                Task task;
                while (read_record(my_read, &task, sizeof task, "reading a task")) {
                    Completion c = complete(task, work);
                    write_all(done_.write_end(), &c, sizeof c, "writing a completion");
                }
                return 0;
            }));
            close(my_read);
        }
    }
    ~ProcessPool() override {
        for (int fd : task_write_)
            close(fd);
        for (pid_t pid : pids_) {
            kill(pid, SIGKILL);
            reap(pid);
        }
    }
    void submit(const Task& task) override {
        write_all(task_write_[task.slot], &task, sizeof task, "writing a task");
    }
    Completion next_completion() override { return done_.next(); }
    uint64_t finish() override {
        for (int fd : task_write_)
            close(fd);  // end of file: each worker exits
        task_write_.clear();
        uint64_t bad = 0;
        for (pid_t pid : pids_)
            bad += reap(pid) != 0;
        pids_.clear();
        return bad;
    }

  private:
    CompletionPipe done_;
    std::vector<int> task_write_;
    std::vector<pid_t> pids_;
};

class ForkPerTask : public Executor {
  public:
    ForkPerTask(unsigned slots, const TaskWork& work, const wl::CpuList& cpus)
        : work_(work), cpus_(cpus), pids_(slots, -1) {}
    ~ForkPerTask() override {
        for (pid_t pid : pids_)
            if (pid > 0)
                kill(pid, SIGKILL), reap(pid);
    }
    void submit(const Task& task) override {
        pids_[task.slot] = fork_worker([&] {
            close(done_.read_end());
            cpus_.pin(task.slot);
            Completion c = complete(task, work_);
            c.executor = int32_t(getpid());
            write_all(done_.write_end(), &c, sizeof c, "writing a completion");
            return 0;
        });
    }
    Completion next_completion() override {
        Completion c = done_.next();
        if (c.slot < pids_.size() && pids_[c.slot] > 0) {
            // The child wrote its completion and is exiting: reaping it is part of the
            // cost of a process per task.
            if (reap(pids_[c.slot]) != 0)
                bad_++;
            pids_[c.slot] = -1;
        }
        return c;
    }
    uint64_t finish() override { return bad_; }

  private:
    CompletionPipe done_;
    TaskWork work_;
    const wl::CpuList& cpus_;
    std::vector<pid_t> pids_;
    uint64_t bad_ = 0;
};

}  // namespace

uint64_t run_task(const TaskWork& work) {
    return wl::hash_bytes(work.buffer->data(), work.buffer->size());
}

const char* mode_name(Mode m) {
    switch (m) {
        case Mode::thread_pool:
            return "thread-pool";
        case Mode::thread_per_task:
            return "thread-per-task";
        case Mode::process_pool:
            return "process-pool";
        case Mode::fork_per_task:
            return "fork-per-task";
    }
    return "?";
}

const std::vector<Mode>& all_modes() {
    static const std::vector<Mode> modes = {Mode::thread_pool, Mode::thread_per_task,
                                            Mode::process_pool, Mode::fork_per_task};
    return modes;
}

std::unique_ptr<Executor> make_executor(Mode mode, unsigned slots, const TaskWork& work,
                                        const wl::CpuList& cpus) {
    switch (mode) {
        case Mode::thread_pool:
            return std::make_unique<ThreadPool>(slots, work, cpus);
        case Mode::thread_per_task:
            return std::make_unique<ThreadPerTask>(slots, work, cpus);
        case Mode::process_pool:
            return std::make_unique<ProcessPool>(slots, work, cpus);
        case Mode::fork_per_task:
            return std::make_unique<ForkPerTask>(slots, work, cpus);
    }
    return nullptr;
}

}  // namespace pools
