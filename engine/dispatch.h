#pragma once
// Calls f(T{}) with T the C++ type of a dtype (host code of both backends).
#include <cstdint>

#include "engine/dtype.h"

namespace rmgait {

template <class F>
void dispatch(DType t, F&& f) {
  switch (t) {
    case DType::f32:
      f(float{});
      break;
    case DType::u8:
      f(uint8_t{});
      break;
    case DType::i32:
      f(int32_t{});
      break;
    case DType::i64:
      f(int64_t{});
      break;
    case DType::bf16:
      f(BFloat16{});
      break;
  }
}

}  // namespace rmgait
