#include "napi/model_wrap.h"

#include <cstring>

#include "core/kernels/bf16_panels.h"
#include "core/kernels/matmul_q8.h"
#include "napi/args.h"
#include "napi/errors.h"
#include "napi/kv_cache_wrap.h"
#include "napi/workers.h"

namespace astraea::napi {

Napi::Function ModelWrap::define(Napi::Env env) {
  return DefineClass(env, "NativeModel",
                     {InstanceMethod("info", &ModelWrap::info), InstanceMethod("createKvCache", &ModelWrap::create_kv_cache),
                      InstanceMethod("step", &ModelWrap::step), InstanceMethod("tensors", &ModelWrap::tensors),
                      InstanceMethod("tensorData", &ModelWrap::tensor_data), InstanceMethod("dispose", &ModelWrap::dispose)});
}

Napi::Object ModelWrap::wrap(Napi::Env env, std::shared_ptr<Model> model) {
  auto* handoff = new std::shared_ptr<Model>(std::move(model));
  Napi::Object obj = addon_data(env).model_constructor.New({Napi::External<std::shared_ptr<Model>>::New(env, handoff)});
  delete handoff;
  return obj;
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  if (info.Length() != 1 || !info[0].IsExternal())
    throw engine_error(info.Env(), codes::kInvalidArgument, "NativeModel is created by loadModel(), not with new");
  model_ = *info[0].As<Napi::External<std::shared_ptr<Model>>>().Data();
}

std::shared_ptr<Model> ModelWrap::live() const {
  if (!model_) throw EngineError(codes::kDisposed, "the model has been disposed");
  return model_;
}

namespace {

// The GPU's pools are BF16 only; the CPU's follow the weights unless asked (Model::default_kv_dtype).
DType default_kv_dtype(const Model& model) {
  std::string gpu;
  return gpu_in_use(gpu) ? DType::BF16 : model.default_kv_dtype();
}

DType kv_dtype_option(const Model& model, const std::string& s) {
  if (s == "auto") return default_kv_dtype(model);
  if (s == "bf16") return DType::BF16;
  if (s != "f32") throw EngineError(codes::kInvalidArgument, "the KV cache dtype must be one of auto, f32, bf16; got \"" + s + "\"");
  std::string gpu;
  if (gpu_in_use(gpu)) throw EngineError(codes::kInvalidArgument, "the CUDA backend's KV cache is BF16 only; ask for dtype 'bf16' or 'auto'");
  return DType::F32;
}

}  // namespace

Napi::Value ModelWrap::info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    auto model = live();
    const ModelConfig& c = model->config();
    Napi::Object o = Napi::Object::New(env);
    o.Set("architecture", c.architecture);
    o.Set("modelType", c.model_type);
    o.Set("hiddenSize", double(c.hidden_size));
    o.Set("numLayers", double(c.num_layers));
    o.Set("numHeads", double(c.num_heads));
    o.Set("numKvHeads", double(c.num_kv_heads));
    o.Set("headDim", double(c.head_dim));
    o.Set("intermediateSize", double(c.intermediate_size));
    o.Set("vocabSize", double(c.vocab_size));
    o.Set("maxPositionEmbeddings", double(c.max_position_embeddings));
    o.Set("slidingWindow", c.sliding_window > 0 ? Napi::Value(Napi::Number::New(env, double(c.sliding_window))) : env.Null());
    o.Set("tieWordEmbeddings", c.tie_word_embeddings);
    Napi::Array eos = Napi::Array::New(env, c.eos_token_ids.size());
    for (size_t i = 0; i < c.eos_token_ids.size(); ++i) eos.Set(uint32_t(i), double(c.eos_token_ids[i]));
    o.Set("eosTokenIds", eos);
    o.Set("bosTokenId", c.bos_token_id >= 0 ? Napi::Value(Napi::Number::New(env, double(c.bos_token_id))) : env.Null());
    const DType kv_dtype = default_kv_dtype(*model);
    o.Set("kvBytesPerToken", double(c.num_layers * 2 * c.kv_dim() * int64_t(dtype_size(kv_dtype))));
    o.Set("kvDtype", dtype_name(kv_dtype));
    o.Set("decodeStreamBytes", double(model->weights().decode_stream_bytes));
    o.Set("weightDtype", dtype_name(model->weights().layers.empty() ? DType::F32 : model->weights().layers[0].q.dtype));
    o.Set("activations", dtype_name(model->weights().lm_head.x_dtype));
    o.Set("threads", double(model->threads()));
    // Counted from shapes, not bytes: a Q8_0 tensor's bytes include its scales. (A tied LM head's
    // Q8_0 copy is not a tensor of its own, so it is not counted twice.)
    size_t params = 0;
    for (const NamedTensor& t : model->weights().tensors) {
      size_t n = 1;
      for (int64_t d : t.shape) n *= size_t(d);
      params += n;
    }
    o.Set("parameters", double(params));
    return o;
  });
}

Napi::Value ModelWrap::create_kv_cache(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    Napi::Object opts = object_arg(info, 0, "createKvCache options");
    KvCacheOptions o;
    o.block_size = int_field(opts, "blockSize", 16);
    o.device_blocks = int_field(opts, "deviceBlocks", 0);
    o.host_blocks = int_field(opts, "hostBlocks", 0);
    auto model = live();
    o.dtype = kv_dtype_option(*model, string_field(opts, "dtype", "auto"));
    std::shared_ptr<KvStore> gpu = gpu_kv_store(*model, o);
    return KvCacheWrap::wrap(env, gpu ? gpu : cpu_kv_store(std::shared_ptr<KvCache>(model->create_kv_cache(o))));
  });
}

Napi::Value ModelWrap::step(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return rejecting(env, [&]() -> Napi::Value {
    if (info.Length() < 2 || !info[0].IsObject())
      throw EngineError(codes::kInvalidArgument, "step(cache, plan): cache must be a NativeKvCache");
    Napi::Object cache_obj = info[0].As<Napi::Object>();
    if (!cache_obj.InstanceOf(addon_data(env).kv_cache_constructor.Value()))
      throw EngineError(codes::kInvalidArgument, "step(cache, plan): cache must be a NativeKvCache");
    auto cache = KvCacheWrap::Unwrap(cache_obj)->live();
    auto* worker = new StepWorker(env, live(), std::move(cache));
    try {
      read_step_plan(object_arg(info, 1, "step plan"), worker->plan());
    } catch (...) {
      delete worker;
      throw;
    }
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
  });
}

namespace {

const NamedTensor& find_tensor(const Model& model, const std::string& name) {
  for (const NamedTensor& t : model.weights().tensors)
    if (t.name == name) return t;
  throw EngineError(codes::kInvalidArgument, "the model has no tensor named \"" + name + "\"");
}

}  // namespace

// [{ name, dtype, shape }] for every tensor, under its Hugging Face name. A Q8_0 tensor's shape is
// its logical [rows, cols]; its tensorData is the quants then the scales (see NamedTensor).
Napi::Value ModelWrap::tensors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    auto model = live();
    const auto& tensors = model->weights().tensors;
    Napi::Array list = Napi::Array::New(env, tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i) {
      const NamedTensor& t = tensors[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", t.name);
      o.Set("dtype", dtype_name(t.dtype));
      Napi::Array shape = Napi::Array::New(env, t.shape.size());
      for (size_t d = 0; d < t.shape.size(); ++d) shape.Set(uint32_t(d), double(t.shape[d]));
      o.Set("shape", shape);
      list.Set(uint32_t(i), o);
    }
    return list;
  });
}

// A copy of one tensor's bytes: the weights may be a read-only mapping that JS must not write.
// Q8_0: rows·cols int8 quants (row-major, planar: the kernels' packed rows are unpacked here, see
// core/kernels/matmul_q8.h), then rows·cols/32 F16 block scales (row-major). BF16 in panels:
// the rows again (core/kernels/bf16_panels.h).
Napi::Value ModelWrap::tensor_data(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsString())
      throw EngineError(codes::kInvalidArgument, "tensorData(name): name must be a string");
    auto model = live();
    const NamedTensor& t = find_tensor(*model, info[0].As<Napi::String>().Utf8Value());
    Napi::ArrayBuffer bytes = Napi::ArrayBuffer::New(env, t.nbytes);
    if (t.dtype == DType::Q8_0) {
      const int64_t rows = t.shape.at(0), cols = t.shape.at(1);
      const size_t quant_bytes = size_t(rows * cols);
      unpack_q8_quants(static_cast<const int8_t*>(t.data), rows, cols, static_cast<int8_t*>(bytes.Data()));
      std::memcpy(static_cast<uint8_t*>(bytes.Data()) + quant_bytes, static_cast<const uint8_t*>(t.data) + quant_bytes,
                  t.nbytes - quant_bytes);
    } else if (t.panels) {
      const int64_t rows = t.shape.at(0), cols = t.shape.at(1);
      unpack_bf16_panels(static_cast<const uint32_t*>(t.data), cols, 0, rows, static_cast<uint16_t*>(bytes.Data()));
    } else {
      std::memcpy(bytes.Data(), t.data, t.nbytes);
    }
    return Napi::Uint8Array::New(env, t.nbytes, bytes, 0);
  });
}

Napi::Value ModelWrap::dispose(const Napi::CallbackInfo& info) {
  model_.reset();
  return info.Env().Undefined();
}

}  // namespace astraea::napi
