// The long native operations, each an async worker returning a promise.
#pragma once
#include <napi.h>

#include <memory>

#include "core/model.h"
#include "napi/kv_store.h"
#include "napi/plan_args.h"
#include "napi/promise_worker.h"

namespace astraea::napi {

class LoadModelWorker : public PromiseWorker {
 public:
  LoadModelWorker(Napi::Env env, ModelOptions options) : PromiseWorker(env), options_(std::move(options)) {}

 protected:
  void run() override { model_ = Model::load(options_); }
  Napi::Value result(Napi::Env env) override;

 private:
  ModelOptions options_;
  std::shared_ptr<Model> model_;
};

class StepWorker : public PromiseWorker {
 public:
  StepWorker(Napi::Env env, std::shared_ptr<Model> model, std::shared_ptr<KvStore> cache)
      : PromiseWorker(env), model_(std::move(model)), cache_(std::move(cache)) {}
  BorrowedPlan& plan() { return plan_; }

 protected:
  void run() override;
  Napi::Value result(Napi::Env env) override;

 private:
  std::shared_ptr<Model> model_;
  std::shared_ptr<KvStore> cache_;
  BorrowedPlan plan_;
  StepResult result_;
  double elapsed_s_ = 0;
};

}  // namespace astraea::napi
