// NativeKvCache: the JS handle of a paged KV cache (device pool + host swap pool).
#pragma once
#include <napi.h>

#include <memory>

#include "core/kv_cache.h"

namespace astraea::napi {

class KvCacheWrap : public Napi::ObjectWrap<KvCacheWrap> {
 public:
  static Napi::Function define(Napi::Env env);
  static Napi::Object wrap(Napi::Env env, std::shared_ptr<KvCache> cache);
  explicit KvCacheWrap(const Napi::CallbackInfo& info);

  std::shared_ptr<KvCache> live() const;  // throws DISPOSED

 private:
  Napi::Value info(const Napi::CallbackInfo& info);
  Napi::Value read_block(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<KvCache> cache_;
};

}  // namespace astraea::napi
