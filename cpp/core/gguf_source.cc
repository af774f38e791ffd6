#include "core/gguf_source.h"

#include <algorithm>
#include <cstring>

#include "core/errors.h"
#include "core/thread_pool.h"

namespace astraea {

namespace {

constexpr size_t kQ8BlockBytes = 2 + size_t(kQ8BlockSize);  // F16 d, then 32 int8 q
constexpr int64_t kMaxDim = int64_t(1) << 40;

[[noreturn]] void bad(const std::string& path, const std::string& name, const std::string& why) {
  throw EngineError(codes::kInvalidWeights, path + ": tensor \"" + name + "\" " + why);
}

inline uint16_t read_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// Bytes of one stored row.
size_t row_bytes(DType dtype, int64_t cols) { return gguf_bytes(dtype, 1, cols); }

}  // namespace

size_t gguf_bytes(DType dtype, int64_t rows, int64_t cols) {
  if (dtype == DType::Q8_0) return size_t(rows) * size_t(cols / kQ8BlockSize) * kQ8BlockBytes;
  return size_t(rows) * size_t(cols) * dtype_size(dtype);
}

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path, std::vector<GgufTensorEntry> entries) {
  auto f = std::unique_ptr<GgufFile>(new GgufFile());
  f->file_ = MappedFile::open(path);
  const uint64_t size = f->file_->size();
  for (GgufTensorEntry& e : entries) {
    const std::string name = e.name;
    if (e.shape.empty() || e.shape.size() > 2) bad(path, name, "must have 1 or 2 dimensions");
    for (int64_t d : e.shape)
      if (d < 1 || d > kMaxDim) bad(path, name, "has a dimension of " + std::to_string(d));
    GgufTensor t;
    t.rows = e.shape[0];
    t.cols = e.shape.size() == 2 ? e.shape[1] : 1;
    if (double(t.rows) * double(t.cols) > double(size)) bad(path, name, "has more elements than the file has bytes");
    if (e.dtype == DType::Q8_0 && (e.shape.size() != 2 || t.cols % kQ8BlockSize != 0))
      bad(path, name, "is Q8_0 but not a matrix whose rows are whole 32-value blocks");
    if (e.rope_heads < 0) bad(path, name, "has a negative head count");
    if (e.rope_heads > 0 && (t.rows % e.rope_heads != 0 || (t.rows / e.rope_heads) % 2 != 0))
      bad(path, name, "has " + std::to_string(t.rows) + " rows, not " + std::to_string(e.rope_heads) + " heads of an even size");
    t.nbytes = gguf_bytes(e.dtype, t.rows, t.cols);
    if (e.offset > size || t.nbytes > size - e.offset)
      bad(path, name, "runs past the end of the file (offset " + std::to_string(e.offset) + ", " + std::to_string(t.nbytes) +
                          " bytes, file " + std::to_string(size) + " bytes; truncated?)");
    t.data = f->file_->data() + e.offset;
    t.entry = std::move(e);
    if (!f->tensors_.emplace(name, std::move(t)).second) bad(path, name, "is listed twice");
  }
  return f;
}

const GgufTensor* GgufFile::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

int64_t gguf_source_row(const GgufTensor& t, int64_t row) {
  if (t.entry.rope_heads <= 0) return row;
  const int64_t head_dim = t.rows / t.entry.rope_heads, half = head_dim / 2;
  const int64_t head = row / head_dim, within = row % head_dim;
  // HF row a·d/2 + i is GGUF row 2i + a.
  const int64_t a = within / half, i = within % half;
  return head * head_dim + 2 * i + a;
}

void gguf_read_float(const GgufTensor& t, DType to, void* dst, ThreadPool& pool) {
  const int64_t cols = t.cols;
  const DType from = t.entry.dtype;
  const size_t stride = row_bytes(from, cols);
  pool.parallel_for(t.rows, std::max<int64_t>(1, (int64_t(1) << 16) / cols), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const uint8_t* src = t.data + size_t(gguf_source_row(t, r)) * stride;
      const size_t base = size_t(r) * size_t(cols);
      if (from == DType::Q8_0) {
        for (int64_t blk = 0; blk < cols / kQ8BlockSize; ++blk) {
          const uint8_t* block = src + size_t(blk) * kQ8BlockBytes;
          const float d = f16_to_f32(read_u16(block));
          const int8_t* q = reinterpret_cast<const int8_t*>(block + 2);
          for (int64_t k = 0; k < kQ8BlockSize; ++k)
            store_element(dst, to, base + size_t(blk * kQ8BlockSize + k), d * float(q[k]));
        }
      } else if (from == to) {
        std::memcpy(static_cast<uint8_t*>(dst) + base * dtype_size(to), src, stride);
      } else {
        for (int64_t k = 0; k < cols; ++k) store_element(dst, to, base + size_t(k), load_element(src, from, size_t(k)));
      }
    }
  });
}

void gguf_split_q8_0(const GgufTensor& t, int8_t* quants, uint16_t* scales, ThreadPool& pool) {
  const int64_t cols = t.cols, blocks = cols / kQ8BlockSize;
  const size_t stride = row_bytes(DType::Q8_0, cols);
  pool.parallel_for(t.rows, std::max<int64_t>(1, (int64_t(1) << 16) / cols), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const uint8_t* src = t.data + size_t(gguf_source_row(t, r)) * stride;
      for (int64_t blk = 0; blk < blocks; ++blk) {
        const uint8_t* block = src + size_t(blk) * kQ8BlockBytes;
        scales[r * blocks + blk] = read_u16(block);
        std::memcpy(quants + r * cols + blk * kQ8BlockSize, block + 2, size_t(kQ8BlockSize));
      }
    }
  });
}

}  // namespace astraea
