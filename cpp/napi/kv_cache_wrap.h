// NativeKvCache: the JS handle of a paged KV cache (device pool + host swap pool), on the CPU or the GPU.
#pragma once
#include <napi.h>

#include <memory>

#include "napi/kv_store.h"

namespace astraea::napi {

class KvCacheWrap : public Napi::ObjectWrap<KvCacheWrap> {
 public:
  static Napi::Function define(Napi::Env env);
  static Napi::Object wrap(Napi::Env env, std::shared_ptr<KvStore> cache);
  explicit KvCacheWrap(const Napi::CallbackInfo& info);

  std::shared_ptr<KvStore> live() const;  // throws DISPOSED

 private:
  Napi::Value info(const Napi::CallbackInfo& info);
  Napi::Value read_block(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<KvStore> cache_;
};

}  // namespace astraea::napi
