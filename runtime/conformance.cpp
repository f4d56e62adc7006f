#include "runtime/conformance.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "arch/error.h"
#include "compiler/frontend/onnx/onnx_loader.h"
#include "compiler/passes/specialize.h"
#include "runtime/runtime.h"

namespace seedchip::runtime {

namespace {

namespace fs = std::filesystem;
namespace ir = compiler::ir;

constexpr double kRtol = 1e-3, kAtol = 1e-7;

double element_as_double(const ir::HostTensor& t, size_t i) {
  const uint8_t* p = t.bytes.data() + i * ir::element_bytes(t.element);
  auto get = [&](auto v) {
    std::memcpy(&v, p, sizeof(v));
    return static_cast<double>(v);
  };
  switch (t.element) {
    case ir::ElementType::F32:
      return get(float{});
    case ir::ElementType::F64:
      return get(double{});
    case ir::ElementType::I8:
      return get(int8_t{});
    case ir::ElementType::I16:
      return get(int16_t{});
    case ir::ElementType::I32:
      return get(int32_t{});
    case ir::ElementType::I64:
      return get(int64_t{});
    case ir::ElementType::U8:
    case ir::ElementType::Bool:
      return get(uint8_t{});
    case ir::ElementType::U16:
      return get(uint16_t{});
    case ir::ElementType::U32:
      return get(uint32_t{});
    case ir::ElementType::U64:
      return get(uint64_t{});
    case ir::ElementType::F16:
    case ir::ElementType::BF16: {
      uint16_t bits;
      std::memcpy(&bits, p, 2);
      uint32_t f = 0;
      if (t.element == ir::ElementType::BF16) {
        f = static_cast<uint32_t>(bits) << 16;
        float x;
        std::memcpy(&x, &f, 4);
        return x;
      }
      // IEEE half: sign, 5-bit exponent, 10-bit mantissa.
      const int exp = (bits >> 10) & 0x1F, man = bits & 0x3FF;
      const double sign = bits & 0x8000 ? -1 : 1;
      if (exp == 0) return sign * std::ldexp(man, -24);
      if (exp == 31) return man ? NAN : sign * INFINITY;
      return sign * std::ldexp(man + 1024, exp - 25);
    }
    default:
      return NAN;
  }
}

bool is_float(ir::ElementType t) {
  return t == ir::ElementType::F32 || t == ir::ElementType::F64 || t == ir::ElementType::F16 ||
         t == ir::ElementType::BF16;
}

// The ONNX test data stores bfloat16 tensors with data type UINT16 (the same bits): read them as
// the bf16 tensors the model declares.
void retype_bf16(ir::HostTensor& t, ir::ElementType wanted) {
  if (t.element == ir::ElementType::U16 && wanted == ir::ElementType::BF16) t.element = wanted;
}

// Empty when `got` matches `expected` within the tolerances; else what differs. Sequences and
// optionals match when they hold as many values, each matching.
std::string compare(const ir::HostTensor& got, const ir::HostTensor& expected) {
  if (got.container != expected.container) {
    const auto kind = [](const ir::HostTensor& t) {
      return t.container ? std::string(ir::container_name(*t.container)) : std::string("tensor");
    };
    return "a " + kind(got) + " vs an expected " + kind(expected);
  }
  if (expected.container) {
    if (got.items.size() != expected.items.size())
      return std::to_string(got.items.size()) + " values vs " +
             std::to_string(expected.items.size()) + " expected";
    for (size_t i = 0; i < expected.items.size(); ++i) {
      const std::string diff = compare(got.items[i], expected.items[i]);
      if (!diff.empty()) return "value " + std::to_string(i) + ": " + diff;
    }
    return "";
  }
  if (got.element != expected.element || got.dims != expected.dims)
    return "type " + std::string(ir::element_name(got.element)) + " vs expected " +
           std::string(ir::element_name(expected.element)) + " (or dims differ)";
  const auto n = static_cast<size_t>(expected.element_count());
  if (expected.element == ir::ElementType::String)
    return got.strings == expected.strings ? "" : "strings differ";
  size_t bad = 0, first = 0;
  double worst = 0;
  for (size_t i = 0; i < n; ++i) {
    const double g = element_as_double(got, i), e = element_as_double(expected, i);
    bool ok;
    if (is_float(expected.element)) {
      ok = (std::isnan(g) && std::isnan(e)) || g == e ||
           std::fabs(g - e) <= kAtol + kRtol * std::fabs(e);
    } else {
      ok = g == e;
    }
    if (!ok) {
      if (bad++ == 0) first = i;
      worst = std::max(worst, std::fabs(g - e));
    }
  }
  if (bad == 0) return "";
  return std::to_string(bad) + " of " + std::to_string(n) + " elements differ (first at " +
         std::to_string(first) + ": " + std::to_string(element_as_double(got, first)) +
         " vs expected " + std::to_string(element_as_double(expected, first)) +
         "; largest difference " + std::to_string(worst) + ")";
}

std::vector<fs::path> sorted_entries(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind(prefix, 0) == 0) out.push_back(e.path());
  std::sort(out.begin(), out.end(), [](const fs::path& a, const fs::path& b) {
    // input_10 after input_9: by the number after the last '_'
    auto num = [](const fs::path& p) {
      const std::string s = p.stem().string();
      return std::stol(s.substr(s.rfind('_') + 1));
    };
    return num(a) < num(b);
  });
  return out;
}

}  // namespace

std::string_view status_name(CaseStatus s) {
  switch (s) {
    case CaseStatus::kPass:
      return "pass";
    case CaseStatus::kFail:
      return "fail";
    case CaseStatus::kUnsupported:
      return "unsupported";
  }
  return "?";
}

CaseResult run_conformance_case(const std::string& dir, const LoadedChip& chip,
                                const compiler::CompileOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  CaseResult r;
  r.name = fs::path(dir).filename().string();
  r.suite = fs::path(dir).parent_path().filename().string();
  auto finish = [&](CaseStatus status, std::string detail, std::string op = "") {
    r.status = status;
    r.detail = std::move(detail);
    r.unsupported_op = std::move(op);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
  };
  ir::Graph graph;
  try {
    graph = compiler::frontend::load_onnx_model((fs::path(dir) / "model.onnx").string());
  } catch (const InputError& e) {
    return finish(CaseStatus::kUnsupported, e.what(), "loader");
  }
  std::set<std::string> ops;
  for (const ir::Node& n : graph.nodes)
    ops.insert(n.domain.empty() ? n.op : n.domain + "::" + n.op);
  r.ops.assign(ops.begin(), ops.end());
  std::vector<std::string> input_names;
  std::vector<ir::TensorType> input_types, output_types;
  std::vector<bool> has_default;
  for (ir::ValueId v : graph.inputs) {
    input_names.push_back(graph.value(v).name);
    input_types.push_back(graph.value(v).type);
    has_default.push_back(graph.value(v).constant != nullptr);
  }
  for (ir::ValueId v : graph.outputs) output_types.push_back(graph.value(v).type);
  compiler::CompiledModel model;
  bool compiled = false;
  for (const fs::path& set : sorted_entries(dir, "test_data_set_")) {
    std::map<std::string, ir::HostTensor> inputs;
    size_t positional = 0;
    for (const fs::path& file : sorted_entries(set, "input_")) {
      std::string name;
      ir::HostTensor t;
      // A tensor, sequence or optional file, as the input it is numbered for is declared.
      size_t slot = positional;
      while (slot < input_names.size() && has_default[slot]) ++slot;
      try {
        t = compiler::frontend::load_onnx_value(
            file.string(), slot < input_types.size() ? input_types[slot] : ir::TensorType{}, &name);
      } catch (const InputError& e) {
        // Not a value the loader reads (a map, say): the model's ops decide the verdict.
        try {
          compiler::compile_graph(graph, chip, options);
        } catch (const compiler::UnsupportedError& u) {
          return finish(CaseStatus::kUnsupported, u.what(), u.op());
        } catch (const InputError&) {
        }
        return finish(CaseStatus::kFail, e.what());
      }
      if (name.empty() ||
          std::find(input_names.begin(), input_names.end(), name) == input_names.end()) {
        while (positional < input_names.size() && has_default[positional]) ++positional;
        if (positional >= input_names.size())
          return finish(CaseStatus::kFail, file.string() + ": more input files than inputs");
        name = input_names[positional++];
      }
      for (ir::ValueId v : graph.inputs)
        if (graph.value(v).name == name) retype_bf16(t, graph.value(v).type.element);
      inputs[name] = std::move(t);
    }
    // Inputs that fix shapes (Slice starts, reduction axes, ...) are compiled in: a data set with
    // other values gets its own program.
    ir::Graph specialised = graph;
    const std::vector<std::string> fixed =
        compiler::passes::specialize_shape_inputs(specialised, inputs);
    for (const std::string& name : fixed) inputs.erase(name);
    if (!compiled || !fixed.empty()) {
      try {
        model = compiler::compile_graph(std::move(specialised), chip, options);
      } catch (const compiler::UnsupportedError& e) {
        return finish(CaseStatus::kUnsupported, e.what(), e.op());
      } catch (const InputError& e) {
        return finish(CaseStatus::kFail, std::string("compile: ") + e.what());
      }
      compiled = true;
    }
    RunResult run;
    try {
      run = run_model(model, chip, inputs);
    } catch (const compiler::UnsupportedError& e) {
      return finish(CaseStatus::kUnsupported, std::string("run: ") + e.what(), e.op());
    } catch (const InputError& e) {
      return finish(CaseStatus::kFail, std::string("run: ") + e.what());
    }
    const std::vector<fs::path> expected_files = sorted_entries(set, "output_");
    if (expected_files.size() != run.outputs.size())
      return finish(CaseStatus::kFail, std::to_string(run.outputs.size()) + " outputs, " +
                                           std::to_string(expected_files.size()) + " expected");
    for (size_t o = 0; o < expected_files.size(); ++o) {
      ir::HostTensor expected = compiler::frontend::load_onnx_value(
          expected_files[o].string(), o < output_types.size() ? output_types[o] : ir::TensorType{});
      retype_bf16(expected, run.outputs[o].element);
      const std::string diff = compare(run.outputs[o], expected);
      if (!diff.empty())
        return finish(CaseStatus::kFail,
                      set.filename().string() + " output '" + run.output_names[o] + "': " + diff);
    }
  }
  if (!compiled) return finish(CaseStatus::kFail, "no test data set");
  return finish(CaseStatus::kPass, "");
}

std::vector<CaseResult> run_conformance(const LoadedChip& chip, const ConformanceOptions& options) {
  if (!fs::is_directory(options.data_dir))
    throw InputError(options.data_dir +
                     ": ONNX backend test data not found (Debian package "
                     "libonnx-testdata)");
  std::vector<std::string> cases;
  const std::regex filter(options.filter.empty() ? ".*" : options.filter, std::regex::ECMAScript);
  for (const std::string& suite : options.suites) {
    const fs::path dir = fs::path(options.data_dir) / suite;
    if (!fs::is_directory(dir)) throw InputError(dir.string() + ": no such test suite folder");
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir))
      if (fs::exists(e.path() / "model.onnx")) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    for (const std::string& n : names)
      if (std::regex_search(suite + "/" + n, filter)) cases.push_back((dir / n).string());
  }
  std::vector<CaseResult> results;
  for (const std::string& c : cases) {
    if (options.stop_requested && options.stop_requested()) break;
    results.push_back(run_conformance_case(c, chip, options.compile));
    if (options.on_case) options.on_case(results.back(), results.size(), cases.size());
  }
  return results;
}

std::string conformance_markdown(const std::vector<CaseResult>& results,
                                 const std::string& command) {
  std::map<std::string, std::array<int, 3>> per_suite, per_op;
  for (const auto& r : results) {
    per_suite[r.suite][static_cast<size_t>(r.status)]++;
    if (r.suite == "node")
      for (const std::string& op : r.ops) per_op[op][static_cast<size_t>(r.status)]++;
  }
  std::string md =
      "# ONNX conformance\n\nGenerated by `" + command +
      "` (do not edit by hand). Each case of Debian's libonnx-testdata is compiled "
      "for the chip, run on the functional simulator and compared with the expected "
      "outputs (rtol 1e-3, atol 1e-7; integers exact).\n\n"
      "| suite | cases | pass | fail | unsupported | pass rate |\n|---|---|---|---|---|---|\n";
  for (const auto& [suite, c] : per_suite) {
    const int total = c[0] + c[1] + c[2];
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.1f%%", total ? 100.0 * c[0] / total : 0.0);
    md += "| " + suite + " | " + std::to_string(total) + " | " + std::to_string(c[0]) + " | " +
          std::to_string(c[1]) + " | " + std::to_string(c[2]) + " | " + rate + " |\n";
  }
  md +=
      "\n## Node cases by operator\n\nA case counts under every operator its model uses.\n\n"
      "| operator | cases | pass | fail | unsupported |\n|---|---|---|---|---|\n";
  for (const auto& [op, c] : per_op)
    md += "| " + op + " | " + std::to_string(c[0] + c[1] + c[2]) + " | " + std::to_string(c[0]) +
          " | " + std::to_string(c[1]) + " | " + std::to_string(c[2]) + " |\n";
  md += "\n## Failures\n\n";
  for (const auto& r : results)
    if (r.status == CaseStatus::kFail)
      md += "- `" + r.suite + "/" + r.name + "`: " + r.detail + "\n";
  return md;
}

}  // namespace seedchip::runtime
