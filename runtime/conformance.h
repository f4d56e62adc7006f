#pragma once
// The ONNX backend test data (Debian's libonnx-testdata) run through the whole stack: ONNX
// frontend -> passes -> code generation -> functional simulation -> comparison with the expected
// outputs, with the tolerances the ONNX backend tests use (rtol 1e-3, atol 1e-7; integers and
// booleans exact). Each case is classified pass, fail, or unsupported (the missing op named).
#include <functional>
#include <regex>
#include <string>
#include <vector>

#include "arch/chip_loader.h"
#include "compiler/codegen/compile.h"

namespace seedchip::runtime {

inline constexpr const char* kOnnxTestData = "/usr/share/libonnx-testdata/data";

enum class CaseStatus : uint8_t { kPass, kFail, kUnsupported };
std::string_view status_name(CaseStatus s);

struct CaseResult {
  std::string suite;             // node, simple, pytorch-converted, pytorch-operator
  std::string name;              // the case folder, e.g. test_matmul_2d
  std::vector<std::string> ops;  // operators of the model (default domain unless prefixed)
  CaseStatus status = CaseStatus::kFail;
  std::string detail;          // why it failed, or what is unsupported
  std::string unsupported_op;  // for kUnsupported: the op (or "shape", "loader", ...)
  double seconds = 0;          // wall time of the case
};

struct ConformanceOptions {
  std::string data_dir = kOnnxTestData;
  std::vector<std::string> suites = {"node", "simple", "pytorch-converted", "pytorch-operator"};
  std::string filter;  // ECMAScript regex on "suite/case"; empty: all
  // FP32-grade matrix products by default: the references are FP32 results, and cancellation
  // can leave a result far smaller than its operands, below what bf16x3 resolves.
  compiler::CompileOptions compile = fp32_grade();
  static compiler::CompileOptions fp32_grade() {
    compiler::CompileOptions o;
    o.matmul_precision = compiler::MatmulPrecision::kBf16x6;
    return o;
  }
  std::function<void(const CaseResult&, size_t done, size_t total)> on_case;
  std::function<bool()> stop_requested;  // polled between cases
};

// One case folder (model.onnx and test_data_set_*/).
CaseResult run_conformance_case(const std::string& dir, const LoadedChip& chip,
                                const compiler::CompileOptions& options);

// Every case of the selected suites, sorted by suite and name. Throws InputError when the data
// directory or a suite folder is missing.
std::vector<CaseResult> run_conformance(const LoadedChip& chip, const ConformanceOptions& options);

// The report docs/conformance.md holds: pass rates per suite, node cases per operator, and every
// failure with its reason. `command` is the command line that regenerates it.
std::string conformance_markdown(const std::vector<CaseResult>& results,
                                 const std::string& command);

}  // namespace seedchip::runtime
