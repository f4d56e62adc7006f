// libFuzzer target for the ONNX frontend: any bytes, read as a model and as a tensor file, must
// either load or raise InputError; every other exception, crash or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>

#include "arch/error.h"
#include "compiler/frontend/onnx/onnx_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fe = seedchip::compiler::frontend;
  try {
    fe::load_onnx_model_bytes(data, size, "fuzz.onnx");
  } catch (const seedchip::InputError&) {
  }
  try {
    fe::load_onnx_tensor_bytes(data, size, "fuzz.pb");
  } catch (const seedchip::InputError&) {
  }
  return 0;
}
