#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/errors.h"

namespace astraea {

namespace {
std::atomic<uint64_t> g_anonymous_bytes{0};
std::atomic<uint64_t> g_mapped_file_bytes{0};
}  // namespace

MemoryStats memory_stats() { return {g_anonymous_bytes.load(), g_mapped_file_bytes.load()}; }

std::unique_ptr<MappedFile> MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const char* code = errno == ENOENT ? codes::kModelNotFound : codes::kIo;
    throw EngineError(code, "cannot open " + path + ": " + std::strerror(errno));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    throw EngineError(codes::kIo, "cannot stat " + path + ": " + std::strerror(err));
  }
  size_t size = size_t(st.st_size);
  void* addr = nullptr;
  if (size > 0) {
    addr = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      throw EngineError(codes::kIo, "cannot map " + path + ": " + std::strerror(err));
    }
  }
  ::close(fd);  // the mapping keeps the file alive
  g_mapped_file_bytes += size;
  return std::unique_ptr<MappedFile>(new MappedFile(path, addr, size));
}

MappedFile::~MappedFile() {
  if (addr_ && size_) {
    munmap(addr_, size_);
    g_mapped_file_bytes -= size_;
  }
}

AnonymousMemory::AnonymousMemory(size_t bytes, const char* what) : size_(bytes) {
  if (bytes == 0) return;
  addr_ = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (addr_ == MAP_FAILED) {
    addr_ = nullptr;
    throw EngineError(codes::kOutOfMemory, std::string("cannot reserve ") + std::to_string(bytes >> 20) +
                                               " MiB for " + what + ": " + std::strerror(errno));
  }
  // Huge pages: one fault per 2 MiB instead of per 4 KiB (faults are costly in VMs), and fewer
  // TLB misses when a decode step streams the weights.
  if (bytes >= (size_t(2) << 20)) madvise(addr_, bytes, MADV_HUGEPAGE);
  g_anonymous_bytes += bytes;
}

AnonymousMemory::~AnonymousMemory() {
  if (addr_) {
    munmap(addr_, size_);
    g_anonymous_bytes -= size_;
  }
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string read_text_file(const std::string& path, const char* missing_code) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw EngineError(missing_code, "cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace astraea
