#include "core/gguf_source.h"

#include <algorithm>
#include <cstring>

#include "core/errors.h"
#include "core/quantize.h"
#include "core/thread_pool.h"

namespace astraea {

namespace {

constexpr int64_t kMaxDim = int64_t(1) << 40;

[[noreturn]] void bad(const std::string& path, const std::string& name, const std::string& why) {
  throw EngineError(codes::kInvalidWeights, path + ": tensor \"" + name + "\" " + why);
}

inline uint16_t read_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// Rows per parallel chunk: about 64K values each.
int64_t rows_per_chunk(int64_t cols) { return std::max<int64_t>(1, (int64_t(1) << 16) / cols); }

}  // namespace

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
    const int64_t block = ggml_block_values(e.type);
    if (block > 1 && (e.shape.size() != 2 || t.cols % block != 0))
      bad(path, name, std::string("is ") + ggml_type_name(e.type) + " but not a matrix whose rows are whole " +
                          std::to_string(block) + "-value blocks");
    if (e.rope_heads < 0) bad(path, name, "has a negative head count");
    if (e.rope_heads > 0 && (t.rows % e.rope_heads != 0 || (t.rows / e.rope_heads) % 2 != 0))
      bad(path, name, "has " + std::to_string(t.rows) + " rows, not " + std::to_string(e.rope_heads) + " heads of an even size");
    t.nbytes = size_t(t.rows) * ggml_row_bytes(e.type, t.cols);
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
  const GgmlType from = t.entry.type;
  const size_t stride = ggml_row_bytes(from, cols);
  const bool same = ggml_engine_dtype(from) == to;
  pool.parallel_for(t.rows, rows_per_chunk(cols), [&](int64_t b, int64_t e) {
    std::vector<float> row(same ? 0 : size_t(cols));
    for (int64_t r = b; r < e; ++r) {
      const uint8_t* src = t.data + size_t(gguf_source_row(t, r)) * stride;
      const size_t base = size_t(r) * size_t(cols);
      if (same) {
        std::memcpy(static_cast<uint8_t*>(dst) + base * dtype_size(to), src, stride);
        continue;
      }
      ggml_decode_row(from, src, cols, row.data());
      for (int64_t k = 0; k < cols; ++k) store_element(dst, to, base + size_t(k), row[size_t(k)]);
    }
  });
}

void gguf_split_q8_0(const GgufTensor& t, int8_t* quants, uint16_t* scales, ThreadPool& pool) {
  const int64_t cols = t.cols, blocks = cols / kQ8BlockSize;
  const size_t stride = ggml_row_bytes(GgmlType::Q8_0, cols), block_bytes = ggml_block_bytes(GgmlType::Q8_0);
  pool.parallel_for(t.rows, rows_per_chunk(cols), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const uint8_t* src = t.data + size_t(gguf_source_row(t, r)) * stride;
      for (int64_t blk = 0; blk < blocks; ++blk) {
        const uint8_t* block = src + size_t(blk) * block_bytes;
        scales[r * blocks + blk] = read_u16(block);
        std::memcpy(quants + r * cols + blk * kQ8BlockSize, block + 2, size_t(kQ8BlockSize));
      }
    }
  });
}

void gguf_quantize_q8_0(const GgufTensor& t, int8_t* quants, uint16_t* scales, ThreadPool& pool, const std::string& what) {
  const size_t stride = ggml_row_bytes(t.entry.type, t.cols);
  quantize_rows_q8_0(t.rows, t.cols, quants, scales, pool, what, [&](int64_t r, float* scratch) -> const float* {
    ggml_decode_row(t.entry.type, t.data + size_t(gguf_source_row(t, r)) * stride, t.cols, scratch);
    return scratch;
  });
}

}  // namespace astraea
