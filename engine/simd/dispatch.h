// Internal to engine/simd: applies the SAVANT_CPU override once, before the first dispatch.
#pragma once

namespace savant::engine::simd {

// Idempotent and thread-safe; every public entry point of simd.h calls it.
void EnsureIsaChosen();

}  // namespace savant::engine::simd
