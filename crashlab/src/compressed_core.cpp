#include "compressed_core.h"

#include <fcntl.h>
#include <lz4frame.h>
#include <lzma.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

#include <cstring>
#include <vector>

#include "errors.h"

namespace crashlab {

namespace {

constexpr size_t kChunk = 1 << 20;

void write_all(int fd, const void* data, size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
        ssize_t n = write(fd, p, size);
        if (n <= 0)
            throw tk::UserError(tk::errno_text("cannot hold the inflated core in memory"));
        p += n;
        size -= size_t(n);
    }
}

// Reads the next chunk of IN into BUF; 0 at the end.
size_t read_chunk(int in, std::vector<char>& buf, const std::string& path) {
    for (;;) {
        ssize_t n = read(in, buf.data(), buf.size());
        if (n >= 0)
            return size_t(n);
        if (errno != EINTR)
            throw tk::UserError(tk::errno_text("cannot read " + path));
    }
}

[[noreturn]] void damaged(const std::string& path, Compression c, const std::string& why) {
    throw tk::UserError(path + ": damaged or cut-short " + name_of(c) + " data (" + why +
                        "): the core cannot be inflated; fetch it again");
}

void inflate_zstd(int in, int out, const std::string& path) {
    ZSTD_DCtx* d = ZSTD_createDCtx();
    std::vector<char> ibuf(kChunk), obuf(ZSTD_DStreamOutSize());
    size_t last = 0;
    for (size_t n; (n = read_chunk(in, ibuf, path)) > 0;) {
        ZSTD_inBuffer i = {ibuf.data(), n, 0};
        while (i.pos < i.size) {
            ZSTD_outBuffer o = {obuf.data(), obuf.size(), 0};
            last = ZSTD_decompressStream(d, &o, &i);
            if (ZSTD_isError(last)) {
                std::string why = ZSTD_getErrorName(last);
                ZSTD_freeDCtx(d);
                damaged(path, Compression::Zstd, why);
            }
            write_all(out, obuf.data(), o.pos);
        }
    }
    ZSTD_freeDCtx(d);
    if (last != 0)
        damaged(path, Compression::Zstd, "the last frame is incomplete");
}

void inflate_lz4(int in, int out, const std::string& path) {
    LZ4F_dctx* d = nullptr;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION)))
        throw tk::UserError("lz4: out of memory");
    std::vector<char> ibuf(kChunk), obuf(4 << 20);
    size_t hint = 1;
    for (size_t n; (n = read_chunk(in, ibuf, path)) > 0;) {
        size_t pos = 0;
        while (pos < n) {
            size_t src = n - pos, dst = obuf.size();
            hint = LZ4F_decompress(d, obuf.data(), &dst, ibuf.data() + pos, &src, nullptr);
            if (LZ4F_isError(hint)) {
                std::string why = LZ4F_getErrorName(hint);
                LZ4F_freeDecompressionContext(d);
                damaged(path, Compression::Lz4, why);
            }
            write_all(out, obuf.data(), dst);
            pos += src;
        }
    }
    LZ4F_freeDecompressionContext(d);
    if (hint != 0)
        damaged(path, Compression::Lz4, "the frame is incomplete");
}

void inflate_xz(int in, int out, const std::string& path) {
    lzma_stream s = LZMA_STREAM_INIT;
    if (lzma_stream_decoder(&s, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK)
        throw tk::UserError("xz: out of memory");
    std::vector<char> ibuf(kChunk), obuf(4 << 20);
    lzma_ret r = LZMA_OK;
    bool end = false;
    while (r != LZMA_STREAM_END) {
        if (s.avail_in == 0 && !end) {
            size_t n = read_chunk(in, ibuf, path);
            s.next_in = reinterpret_cast<const uint8_t*>(ibuf.data());
            s.avail_in = n;
            end = n == 0;
        }
        s.next_out = reinterpret_cast<uint8_t*>(obuf.data());
        s.avail_out = obuf.size();
        r = lzma_code(&s, end ? LZMA_FINISH : LZMA_RUN);
        write_all(out, obuf.data(), obuf.size() - s.avail_out);
        if (r != LZMA_OK && r != LZMA_STREAM_END) {
            lzma_end(&s);
            damaged(path, Compression::Xz,
                    r == LZMA_BUF_ERROR ? "it ends too soon" : "error " + std::to_string(r));
        }
    }
    lzma_end(&s);
}

}  // namespace

const char* name_of(Compression c) {
    switch (c) {
        case Compression::Zstd:
            return "zstd";
        case Compression::Lz4:
            return "lz4";
        case Compression::Xz:
            return "xz";
        case Compression::None:
            break;
    }
    return "uncompressed";
}

Compression compression_of(const std::string& path) {
    tk::Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    unsigned char m[6] = {};
    if (!fd || pread(fd.get(), m, sizeof m, 0) != ssize_t(sizeof m))
        return Compression::None;  // CoreFile says what is wrong with it
    if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
        return Compression::Zstd;
    if (m[0] == 0x04 && m[1] == 0x22 && m[2] == 0x4d && m[3] == 0x18)
        return Compression::Lz4;
    if (memcmp(m,
               "\xfd"
               "7zXZ\0",
               6) == 0)
        return Compression::Xz;
    return Compression::None;
}

tk::Fd inflate_core(const std::string& path, Compression c) {
    tk::Fd in(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in)
        throw tk::UserError(tk::errno_text(path));
    tk::Fd out(memfd_create("crashlab-core", MFD_CLOEXEC));
    if (!out)
        throw tk::UserError(tk::errno_text("memfd_create"));
    if (c == Compression::Zstd)
        inflate_zstd(in.get(), out.get(), path);
    else if (c == Compression::Lz4)
        inflate_lz4(in.get(), out.get(), path);
    else if (c == Compression::Xz)
        inflate_xz(in.get(), out.get(), path);
    return out;
}

}  // namespace crashlab
