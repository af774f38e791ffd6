// Tensors of a GGUF file (llama.cpp's format), memory-mapped, as the weight loader takes them.
// TypeScript reads the header (lib/model/gguf-file.ts) and names each tensor in Hugging Face
// terms (lib/model/gguf-config.ts); this side maps the file, checks every tensor's byte range
// against the mapping, and reads a tensor into the engine's layouts:
//   - rows put back in Hugging Face order for q/k (llama.cpp's converter stores each head's rows
//     as GGUF row 2i + a = HF row a·d/2 + i, d the head dim),
//   - any stored type (core/ggml_types.h) decoded to a float dtype,
//   - Q8_0's 34-byte blocks {F16 d, 32 int8 q} split into the planar layout of
//     core/kernels/matmul_q8.h (quants [rows][cols], then scales [rows][cols/32]); any other type
//     decoded row by row and quantized into that layout.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/ggml_types.h"
#include "core/mapped_file.h"

namespace astraea {

class ThreadPool;

// One tensor as the caller names it (from the header TypeScript read).
struct GgufTensorEntry {
  std::string name;             // Hugging Face name
  GgmlType type = GgmlType::F32;  // as stored
  std::vector<int64_t> shape;   // Hugging Face shape, outermost first
  uint64_t offset = 0;          // absolute byte offset in the file
  int64_t rope_heads = 0;       // > 0: rows interleaved for llama.cpp's RoPE, in this many heads
};

struct GgufTensor {
  GgufTensorEntry entry;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  int64_t rows = 0, cols = 0;  // a vector is rows × 1
};

class GgufFile {
 public:
  // Maps `path` and checks every entry: a shape of 1 or 2 positive dims, a block type only for a
  // matrix whose rows are whole blocks, rope rows divisible into heads of even size, and bytes inside the file.
  // Throws EngineError INVALID_WEIGHTS (MODEL_NOT_FOUND / IO_ERROR from the mapping).
  static std::unique_ptr<GgufFile> open(const std::string& path, std::vector<GgufTensorEntry> entries);

  const GgufTensor* find(const std::string& name) const;
  const std::string& path() const { return file_->path(); }
  // Releases the mapping (to the model, when a tensor is used in place); views become invalid.
  std::unique_ptr<MappedFile> take_file() { return std::move(file_); }

 private:
  std::unique_ptr<MappedFile> file_;
  std::map<std::string, GgufTensor> tensors_;
};


// The stored row that holds Hugging Face row `row` (identity when rope_heads == 0).
int64_t gguf_source_row(const GgufTensor& t, int64_t row);

// The whole tensor, rows in Hugging Face order, as `to` (F32, F16 or BF16) into dst.
void gguf_read_float(const GgufTensor& t, DType to, void* dst, ThreadPool& pool);

// A Q8_0 tensor, rows in Hugging Face order, into the planar layout (quants, then F16 scales).
void gguf_split_q8_0(const GgufTensor& t, int8_t* quants, uint16_t* scales, ThreadPool& pool);

// A tensor of any other type, rows in Hugging Face order, decoded and quantized into the planar
// Q8_0 layout (core/quantize.h's numbers). Throws EngineError INVALID_WEIGHTS naming `what` when
// a value is not finite, UNSUPPORTED_MODEL when cols is not a multiple of 32.
void gguf_quantize_q8_0(const GgufTensor& t, int8_t* quants, uint16_t* scales, ThreadPool& pool, const std::string& what);

}  // namespace astraea
