#include "core/safetensors.h"

#include <dirent.h>

#include <algorithm>
#include <set>

#include "core/errors.h"
#include "core/json.h"

namespace astraea {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // the format's own limit

[[noreturn]] void bad(const std::string& path, const std::string& why) {
  throw EngineError(codes::kInvalidWeights, path + ": " + why);
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint64_t offset_value(const Json& v, const std::string& path, const std::string& name) {
  if (!v.is_number() || v.number() < 0 || v.number() != double(uint64_t(v.number())))
    bad(path, "tensor \"" + name + "\" has a non-integer data offset");
  return uint64_t(v.number());
}

}  // namespace

void SafetensorsSet::add_file(const std::string& path) {
  auto file = MappedFile::open(path);
  if (file->size() < 8) bad(path, "file is " + std::to_string(file->size()) + " bytes, too short for a header");
  const uint64_t header_len = read_u64_le(file->data());
  if (header_len > kMaxHeaderBytes || header_len > file->size() - 8)
    bad(path, "header length " + std::to_string(header_len) + " exceeds the file size " +
                  std::to_string(file->size()) + " (truncated or not a safetensors file)");
  std::string header(reinterpret_cast<const char*>(file->data() + 8), size_t(header_len));
  Json root = Json::parse(header, path + " header", codes::kInvalidWeights);
  if (!root.is_object()) bad(path, "header is not a JSON object");

  const uint8_t* data = file->data() + 8 + header_len;
  const uint64_t data_size = file->size() - 8 - header_len;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;

  for (const auto& [name, entry] : root.object()) {
    if (name == "__metadata__") continue;
    if (!entry.is_object()) bad(path, "entry \"" + name + "\" is not an object");
    const Json* dtype = entry.find("dtype");
    const Json* shape = entry.find("shape");
    const Json* offsets = entry.find("data_offsets");
    if (!dtype || !dtype->is_string() || !shape || !shape->is_array() || !offsets || !offsets->is_array() ||
        offsets->array().size() != 2)
      bad(path, "entry \"" + name + "\" needs dtype, shape and data_offsets [begin, end]");
    if (tensors_.count(name)) bad(path, "tensor \"" + name + "\" appears in more than one shard");

    TensorView t;
    t.name = name;
    t.file = path;
    t.dtype_name = dtype->string();
    t.dtype_supported = parse_dtype(t.dtype_name, &t.dtype);
    uint64_t elements = 1;
    for (const Json& d : shape->array()) {
      if (!d.is_number() || d.number() < 0 || d.number() != double(int64_t(d.number())) || d.number() > 1e12)
        bad(path, "tensor \"" + name + "\" has a bad shape");
      t.shape.push_back(int64_t(d.number()));
      elements *= uint64_t(d.number());
    }
    uint64_t begin = offset_value(offsets->array()[0], path, name);
    uint64_t end = offset_value(offsets->array()[1], path, name);
    if (begin > end || end > data_size)
      bad(path, "tensor \"" + name + "\" spans bytes [" + std::to_string(begin) + ", " + std::to_string(end) +
                    ") but the data section has " + std::to_string(data_size) + " bytes (truncated file?)");
    if (t.dtype_supported && end - begin != elements * dtype_size(t.dtype))
      bad(path, "tensor \"" + name + "\" has " + std::to_string(end - begin) + " bytes but its shape and dtype need " +
                    std::to_string(elements * dtype_size(t.dtype)));
    t.data = data + begin;
    t.nbytes = size_t(end - begin);
    ranges.emplace_back(begin, end);
    tensors_.emplace(name, std::move(t));
  }

  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second) bad(path, "tensor data ranges overlap");
  files_.push_back(std::move(file));
}

SafetensorsSet SafetensorsSet::open_dir(const std::string& dir) {
  SafetensorsSet set;
  const std::string index_path = dir + "/model.safetensors.index.json";
  std::vector<std::string> files;
  if (file_exists(index_path)) {
    Json index = Json::parse(read_text_file(index_path, codes::kModelNotFound), index_path, codes::kInvalidWeights);
    const Json* map = index.find("weight_map");
    if (!map || !map->is_object()) bad(index_path, "missing \"weight_map\" object");
    std::set<std::string> names;
    for (const auto& kv : map->object()) {
      if (!kv.second.is_string() || kv.second.string().find('/') != std::string::npos)
        bad(index_path, "weight_map entry \"" + kv.first + "\" must name a file in the model directory");
      names.insert(kv.second.string());
    }
    files.assign(names.begin(), names.end());
  } else {
    DIR* d = opendir(dir.c_str());
    if (!d) throw EngineError(codes::kModelNotFound, "model directory " + dir + " cannot be read");
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.size() > 12 && n.compare(n.size() - 12, 12, ".safetensors") == 0) files.push_back(n);
    }
    closedir(d);
    std::sort(files.begin(), files.end());
  }
  if (files.empty())
    throw EngineError(codes::kModelNotFound, "no *.safetensors weights in " + dir +
                                                 " (use a dummy load for random weights)");
  for (const auto& f : files) set.add_file(dir + "/" + f);
  return set;
}

const TensorView* SafetensorsSet::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

}  // namespace astraea
