#pragma once
// Calls f(T{}) with T the C++ type of a dtype.
#include <cstdint>

#include "engine/dtype.h"

namespace rmgait::cpu {

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
  }
}

}  // namespace rmgait::cpu
