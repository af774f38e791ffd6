// The weights of a Llama-family model, bound to the names Hugging Face uses. Matrices stay in
// their stored dtype (F32/F16/BF16) and are widened inside the kernels; norms and biases are
// small and kept as F32.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/kernels/matmul.h"
#include "core/mapped_file.h"
#include "core/model_config.h"

namespace astraea {

class ThreadPool;

struct LayerWeights {
  WeightView q, k, v, o, gate, up, down;
  std::vector<float> attn_norm, ffn_norm;
  std::vector<float> q_bias, k_bias, v_bias, o_bias;  // empty when the model has none
};

// One tensor as the model holds it, for export (make-model, GGUF conversion) and inspection.
struct NamedTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void* data;
  size_t nbytes;
};

enum class WeightDType { Auto, F32, F16, BF16 };  // Auto: as stored (dummy loads: F32)

struct WeightSource {
  std::string dir;             // safetensors directory (ignored for dummy loads)
  bool dummy = false;          // seeded random values instead of files
  uint64_t seed = 0;           // for dummy loads
  WeightDType dtype = WeightDType::Auto;
};

class ModelWeights {
 public:
  static std::unique_ptr<ModelWeights> load(const ModelConfig& config, const WeightSource& source, ThreadPool& pool);

  WeightView embed;    // [vocab][hidden]
  WeightView lm_head;  // [vocab][hidden]; the embedding when tied
  std::vector<float> final_norm;
  std::vector<LayerWeights> layers;
  std::vector<NamedTensor> tensors;  // every tensor, under its Hugging Face name
  size_t decode_stream_bytes = 0;    // matrix bytes one decode step must read: layers + LM head

 private:
  std::vector<std::unique_ptr<MappedFile>> files_;
  std::vector<std::unique_ptr<AnonymousMemory>> buffers_;
  friend class WeightBinder;
};

}  // namespace astraea
