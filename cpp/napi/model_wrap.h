// NativeModel: the JS handle of a loaded model. Holds a shared_ptr so that a step in flight
// keeps the model alive after dispose(); dispose() releases the handle's share at once.
#pragma once
#include <napi.h>

#include <memory>

#include "core/model.h"

namespace astraea::napi {

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function define(Napi::Env env);
  static Napi::Object wrap(Napi::Env env, std::shared_ptr<Model> model);
  explicit ModelWrap(const Napi::CallbackInfo& info);

 private:
  std::shared_ptr<Model> live() const;  // throws DISPOSED
  Napi::Value info(const Napi::CallbackInfo& info);
  Napi::Value create_kv_cache(const Napi::CallbackInfo& info);
  Napi::Value step(const Napi::CallbackInfo& info);
  Napi::Value tensors(const Napi::CallbackInfo& info);
  Napi::Value tensor_data(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<Model> model_;
};

}  // namespace astraea::napi
