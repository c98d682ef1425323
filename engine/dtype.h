#pragma once
// Element types and devices.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/math/bf16.h"

namespace rmgait {

// bf16: a storage type (engine/math/bf16.h) for tensors only multiplied in bf16 (saved conv
// inputs under Precision::bf16) and cast from and to f32; the arithmetic ops take f32.
enum class DType : uint8_t { f32, u8, i32, i64, bf16 };
enum class Device : uint8_t { cpu, cuda };

size_t dtype_size(DType t);
const char* dtype_name(DType t);    // "f32", "u8", ...
const char* device_name(Device d);  // "cpu", "cuda"

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<uint8_t>() {
  return DType::u8;
}
template <>
constexpr DType dtype_of<int32_t>() {
  return DType::i32;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::i64;
}
template <>
constexpr DType dtype_of<BFloat16>() {
  return DType::bf16;
}

}  // namespace rmgait
