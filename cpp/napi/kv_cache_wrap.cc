#include "napi/kv_cache_wrap.h"

#include <cstring>

#include "napi/args.h"
#include "napi/errors.h"

namespace astraea::napi {

Napi::Function KvCacheWrap::define(Napi::Env env) {
  return DefineClass(env, "NativeKvCache",
                     {InstanceMethod("info", &KvCacheWrap::info), InstanceMethod("readBlock", &KvCacheWrap::read_block),
                      InstanceMethod("dispose", &KvCacheWrap::dispose)});
}

Napi::Object KvCacheWrap::wrap(Napi::Env env, std::shared_ptr<KvStore> cache) {
  auto* handoff = new std::shared_ptr<KvStore>(std::move(cache));
  Napi::Object obj =
      addon_data(env).kv_cache_constructor.New({Napi::External<std::shared_ptr<KvStore>>::New(env, handoff)});
  delete handoff;
  return obj;
}

KvCacheWrap::KvCacheWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<KvCacheWrap>(info) {
  if (info.Length() != 1 || !info[0].IsExternal())
    throw engine_error(info.Env(), codes::kInvalidArgument, "NativeKvCache is created by model.createKvCache()");
  cache_ = *info[0].As<Napi::External<std::shared_ptr<KvStore>>>().Data();
}

std::shared_ptr<KvStore> KvCacheWrap::live() const {
  if (!cache_) throw EngineError(codes::kDisposed, "the KV cache has been disposed");
  return cache_;
}

Napi::Value KvCacheWrap::info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    auto cache = live();
    Napi::Object o = Napi::Object::New(env);
    const KvShape shape = cache->shape();
    o.Set("blockSize", double(shape.block_size));
    o.Set("deviceBlocks", double(shape.device_blocks));
    o.Set("hostBlocks", double(shape.host_blocks));
    o.Set("blockBytes", double(cache->block_bytes()));
    o.Set("dtype", dtype_name(cache->dtype()));
    return o;
  });
}

// A copy of one block, for tests: readBlock('device' | 'host', id) -> Float32Array.
Napi::Value KvCacheWrap::read_block(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber())
      throw EngineError(codes::kInvalidArgument, "readBlock(pool, id): pool is 'device' or 'host', id a number");
    auto cache = live();
    const std::string pool = info[0].As<Napi::String>().Utf8Value();
    const int64_t id = info[1].As<Napi::Number>().Int64Value();
    if (pool != "device" && pool != "host") throw EngineError(codes::kInvalidArgument, "readBlock: pool must be 'device' or 'host'");
    const std::vector<float> block = cache->read_block(pool == "host", id);
    Napi::Float32Array out = Napi::Float32Array::New(env, block.size());
    std::memcpy(out.Data(), block.data(), block.size() * sizeof(float));
    return out;
  });
}

Napi::Value KvCacheWrap::dispose(const Napi::CallbackInfo& info) {
  cache_.reset();
  return info.Env().Undefined();
}

}  // namespace astraea::napi
