// Converts a JS step plan (an object of typed arrays) into a core StepPlan that borrows the
// arrays' memory. The references keep the arrays alive until the step's promise settles.
#pragma once
#include <napi.h>

#include <vector>

#include "core/step_plan.h"

namespace astraea::napi {

struct BorrowedPlan {
  StepPlan plan;
  std::vector<Napi::Reference<Napi::Value>> keep_alive;
};

void read_step_plan(const Napi::Object& js, BorrowedPlan& out);  // throws EngineError INVALID_ARGUMENT

}  // namespace astraea::napi
