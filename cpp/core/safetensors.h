// Safetensors files, single or sharded, memory-mapped. Tensors are views into the mapping; the
// header is checked against the file before any tensor byte is touched.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/mapped_file.h"

namespace astraea {

struct TensorView {
  std::string name;
  std::string dtype_name;  // as written in the file
  bool dtype_supported = false;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  std::string file;
};

class SafetensorsSet {
 public:
  // Opens every shard of the model in `dir`: the files named by model.safetensors.index.json,
  // or else every *.safetensors file. Throws EngineError MODEL_NOT_FOUND / INVALID_WEIGHTS.
  static SafetensorsSet open_dir(const std::string& dir);
  void add_file(const std::string& path);

  const TensorView* find(const std::string& name) const;
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  // Releases the mappings; tensor views become invalid.
  std::vector<std::unique_ptr<MappedFile>> take_files() { return std::move(files_); }

 private:
  std::vector<std::unique_ptr<MappedFile>> files_;
  std::map<std::string, TensorView> tensors_;
};

}  // namespace astraea
