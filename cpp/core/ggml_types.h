// The ggml tensor types a GGUF file may store a weight as, and the engine reads: the float types,
// Q8_0, llama.cpp's other 32-value block formats (Q4_0, Q4_1, Q5_0, Q5_1), its 256-value
// "K-quants" (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) and its two 4-bit non-linear types (IQ4_NL, IQ4_XS:
// each 4-bit index picks one of 16 fixed levels). The engine computes with F32, F16, BF16 and Q8_0
// (core/dtype.h); a tensor stored in any other type is decoded row by row to F32 here and then
// stored as the dtype the load asks for (Q8_0 for matrices under `auto`: see core/weights.cc).
//
// Each block type holds a fixed number of consecutive values of one row in a fixed number of
// bytes; ggml_types.cc documents each layout next to its decoder.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/dtype.h"

namespace astraea {

// In the order of the table in ggml_types.cc (not ggml's type numbers: only TypeScript reads those).
enum class GgmlType { F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS };

// The name llama.cpp gives the type ("Q4_K"), and back; false for a name not listed above.
const char* ggml_type_name(GgmlType t);
bool parse_ggml_type(const std::string& name, GgmlType* out);

// The engine dtype a type is used as without decoding (F32, F16, BF16, Q8_0), or none.
std::optional<DType> ggml_engine_dtype(GgmlType t);

// Values per block (1 for the float types) and bytes per block.
int64_t ggml_block_values(GgmlType t);
size_t ggml_block_bytes(GgmlType t);

// Bytes of a row of `cols` values (cols a multiple of ggml_block_values).
size_t ggml_row_bytes(GgmlType t, int64_t cols);

// Decodes one row of `cols` values (a multiple of ggml_block_values) stored as `t` at `src`
// (no alignment needed) into dst[cols], computing each value as llama.cpp's own decoder does.
void ggml_decode_row(GgmlType t, const uint8_t* src, int64_t cols, float* dst);

}  // namespace astraea
