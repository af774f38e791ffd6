// Read-only memory mappings: weights are used in place from the page cache (no second copy),
// and large anonymous pools are zero pages until touched.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace astraea {

class MappedFile {
 public:
  static std::unique_ptr<MappedFile> open(const std::string& path);  // throws EngineError
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return static_cast<const uint8_t*>(addr_); }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, void* addr, size_t size) : path_(std::move(path)), addr_(addr), size_(size) {}
  std::string path_;
  void* addr_;
  size_t size_;
};

// Zero-initialised, page-aligned memory from the kernel; freed on destruction.
class AnonymousMemory {
 public:
  explicit AnonymousMemory(size_t bytes, const char* what);  // throws EngineError OUT_OF_MEMORY
  ~AnonymousMemory();
  AnonymousMemory(const AnonymousMemory&) = delete;
  AnonymousMemory& operator=(const AnonymousMemory&) = delete;

  uint8_t* data() const { return static_cast<uint8_t*>(addr_); }
  size_t size() const { return size_; }

 private:
  void* addr_ = nullptr;
  size_t size_ = 0;
};

// Bytes currently held by live mappings, so tests can prove that everything was given back.
struct MemoryStats {
  uint64_t anonymous_bytes;  // KV pools, converted or dummy weights
  uint64_t mapped_file_bytes;  // weights used in place from safetensors files
};
MemoryStats memory_stats();

bool file_exists(const std::string& path);
std::string read_text_file(const std::string& path, const char* missing_code);  // throws EngineError

}  // namespace astraea
