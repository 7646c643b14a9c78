// The fuzz targets' input as a file: the core reader and the analysis take a path, so each
// input is written to one anonymous in-memory file (memfd) and read back through
// /proc/self/fd/N, which costs no disk and leaves nothing behind.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace fuzz {

class InputFile {
  public:
    InputFile() : fd_(memfd_create("fuzz-input", MFD_CLOEXEC)) {
        if (fd_ < 0) {
            perror("memfd_create");
            abort();
        }
        path_ = "/proc/self/fd/" + std::to_string(fd_);
    }
    ~InputFile() { close(fd_); }
    InputFile(const InputFile&) = delete;
    InputFile& operator=(const InputFile&) = delete;

    // Makes the file hold exactly DATA; returns its path.
    const std::string& write(const uint8_t* data, size_t size) {
        if (ftruncate(fd_, 0) != 0) {
            perror("ftruncate");
            abort();
        }
        size_t done = 0;
        while (done < size) {
            ssize_t n = pwrite(fd_, data + done, size - done, off_t(done));
            if (n <= 0) {
                perror("pwrite");
                abort();
            }
            done += size_t(n);
        }
        return path_;
    }

  private:
    int fd_;
    std::string path_;
};

}  // namespace fuzz
