// The weights of a Llama-family model, bound to the names Hugging Face uses. Matrices stay in
// their stored dtype (F32/F16/BF16) and are widened inside the kernels, or are quantized to Q8_0
// at load when asked; norms and biases are small and kept as F32.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/gguf_source.h"
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
// A Q8_0 matrix is one contiguous buffer: the int8 quants (rows · cols bytes, packed for the
// kernels: core/kernels/matmul_q8.h; the addon's tensorData unpacks them to [rows][cols]), then
// immediately the F16 scales [rows][cols/32] (nbytes = matrix_bytes(Q8_0, rows, cols)); shape is
// [rows, cols].
struct NamedTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void* data;
  size_t nbytes;
  // BF16 matrices the kernels read in 64-row panels: data is the panels (core/kernels/bf16_panels.h),
  // nbytes the rows' (rows · cols · 2); export unpacks them.
  bool panels = false;
};

// Auto: as stored (dummy loads: F32). Q8_0: every matrix a decode step streams (q, k, v, o, gate,
// up, down, the LM head) quantized at load from its stored dtype; the token embedding, whose rows
// are gathered rather than streamed, stays as stored, and a tied LM head becomes a quantized copy
// of it (not listed in `tensors`: Hugging Face checkpoints do not list it either).
enum class WeightDType { Auto, F32, F16, BF16, Q8_0 };

struct WeightSource {
  std::string dir;             // safetensors directory (ignored for dummy loads)
  bool dummy = false;          // seeded random values instead of files
  uint64_t seed = 0;           // for dummy loads
  WeightDType dtype = WeightDType::Auto;
  // A GGUF file instead of the safetensors directory: the path and its tensors under their
  // Hugging Face names. Stored Q8_0 matrices stay Q8_0 under Auto and Q8_0 (the token embedding,
  // which is gathered, is dequantized to F32; a tied LM head then stays Q8_0), and are
  // dequantized under F32/F16/BF16.
  std::string gguf_path;
  std::vector<GgufTensorEntry> gguf_tensors;
};

// How a dummy load spreads a tensor's values: matrices keep activations at unit scale (std
// 1/sqrt(fan_in)), norm gains sit near 1, biases near 0, as in a trained model.
enum class WeightInit { Matrix, NormGain, Bias };

// Where a tensor goes in a model's weights.
enum class WeightSlot { Embed, LmHead, FinalNorm, AttnNorm, Q, K, V, QBias, KBias, VBias, O, OBias, FfnNorm, Gate, Up, Down };

// One tensor a Llama-family checkpoint holds, as config.json implies it. cols == 0: a vector.
struct TensorSpec {
  std::string name;
  int64_t rows, cols;
  WeightInit init;
  WeightSlot slot;
  int64_t layer;  // -1 for the embedding, the final norm and the LM head
};

// Every tensor, in load order (the LM head only when it is not tied to the embedding). The CPU
// load and the GPU backend's uploads and dummy generation all walk this one list.
std::vector<TensorSpec> tensor_specs(const ModelConfig& config);

// The dummy generator's draw for one tensor: element i is center + amplitude · (2u − 1), u the
// top 24 bits of mix64(tensor_seed + i · 0xD1B54A32D192ED03) over 2^24.
struct DummyDraw {
  uint64_t tensor_seed;
  float amplitude, center;
};
DummyDraw dummy_draw(uint64_t seed, const TensorSpec& tensor);

class ModelWeights {
 public:
  static std::unique_ptr<ModelWeights> load(const ModelConfig& config, const WeightSource& source, ThreadPool& pool);

  WeightView embed;    // [vocab][hidden]
  WeightView lm_head;  // [vocab][hidden]; the embedding when tied
  std::vector<float> final_norm;
  std::vector<LayerWeights> layers;
  std::vector<NamedTensor> tensors;  // every tensor, under its Hugging Face name
  size_t decode_stream_bytes = 0;    // matrix bytes one decode step must read: layers + LM head
                                     // (Q8_0: quants and scales)

  // Where `tensor` lives here: exactly one of the two is set.
  struct Slot {
    WeightView* matrix;
    std::vector<float>* vector;
  };
  Slot slot(const TensorSpec& tensor);
  struct ConstSlot {
    const WeightView* matrix;
    const std::vector<float>* vector;
  };
  ConstSlot slot(const TensorSpec& tensor) const {
    const Slot s = const_cast<ModelWeights*>(this)->slot(tensor);
    return {s.matrix, s.vector};
  }

 private:
  std::vector<std::unique_ptr<MappedFile>> files_;
  std::vector<std::unique_ptr<AnonymousMemory>> buffers_;
  friend class WeightBinder;
};

}  // namespace astraea
