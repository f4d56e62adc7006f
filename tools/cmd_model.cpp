// seedchip compile / run / conformance: ONNX models through the compiler onto the simulated chip.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "arch/error.h"
#include "compiler/codegen/compile.h"
#include "compiler/frontend/onnx/onnx_loader.h"
#include "compiler/ir/text.h"
#include "compiler/passes/pass.h"
#include "compiler/passes/specialize.h"
#include "runtime/conformance.h"
#include "runtime/model_file.h"
#include "runtime/runtime.h"
#include "tools/common.h"

namespace seedchip::tools {
namespace {

namespace fs = std::filesystem;
namespace ir = compiler::ir;

struct CompileFlags {
  std::string precision;
  QuantizationFlags quantization;
  std::vector<std::string> dump_after;
  bool dump_ir = false;

  // `default_precision`: bf16x3 for models, bf16x6 (FP32-grade) for the conformance suite, whose
  // references are FP32 results that cancellation can make tiny next to the operands.
  void add_to(CLI::App& cmd, const std::string& default_precision = "bf16x3") {
    cmd.add_option("--matmul-precision", precision,
                   "FP32 matrix products as bf16 (1 MXU pass), bf16x3 (3) or bf16x6 (6)")
        ->default_val(default_precision);
    cmd.add_option("--dump-ir-after", dump_after,
                   "print the IR after this pass (repeatable; 'all' for every pass)");
    cmd.add_flag("--dump-ir", dump_ir, "print the IR as loaded, before any pass");
  }
  // compile and run only: the conformance suite checks FP32 references.
  void add_quantization_to(CLI::App& cmd) { quantization.add_to(cmd); }
  compiler::CompileOptions options() const {
    compiler::CompileOptions o;
    o.matmul_precision = compiler::precision_from_name(precision);
    o.quantization = quantization.options();
    o.dump_ir_after = dump_after;
    o.dump = [](std::string_view pass, const ir::Graph& g) {
      std::printf("# IR after %.*s\n%s\n", static_cast<int>(pass.size()), pass.data(),
                  ir::print(g).c_str());
    };
    return o;
  }
};

compiler::CompiledModel compile_file(const std::string& path, const LoadedChip& chip,
                                     const CompileFlags& flags) {
  ir::Graph graph = compiler::frontend::load_onnx_model(path);
  if (flags.dump_ir) std::printf("# IR as loaded\n%s\n", ir::print(graph).c_str());
  return compiler::compile_graph(std::move(graph), chip, flags.options());
}

std::string dims_text(const ir::TensorType& t) {
  std::string s(ir::element_name(t.element));
  s += "[";
  for (size_t i = 0; i < t.dims->size(); ++i) s += (i ? "," : "") + std::to_string((*t.dims)[i]);
  return s + "]";
}

// ---- compile ----

struct CompileCommand {
  std::string model, output;
  bool list_passes = false;
  CompileFlags flags;
  ChipOptions chip;
};

void run_compile(const CompileCommand& c) {
  if (c.list_passes) {
    for (const compiler::passes::Pass& p : compiler::passes::all_passes())
      std::printf("%-16.*s %.*s\n", static_cast<int>(p.name.size()), p.name.data(),
                  static_cast<int>(p.description.size()), p.description.data());
    const compiler::passes::Pass quantize = compiler::passes::quantize_pass({});
    std::printf("%-16.*s %.*s\n", static_cast<int>(quantize.name.size()), quantize.name.data(),
                static_cast<int>(quantize.description.size()), quantize.description.data());
    return;
  }
  if (c.model.empty()) throw InputError("compile: a model file is required");
  const LoadedChip chip = c.chip.load();
  const compiler::CompiledModel model = compile_file(c.model, chip, c.flags);
  std::printf(
      "compiled %s for %s: %zu operators, %zu instructions, %.3f MiB of HBM\n", c.model.c_str(),
      chip.config.name.c_str(), model.ops.size(),
      [&] {
        size_t n = 0;
        for (const auto& s : model.program.sections) n += s.code.size();
        return n;
      }(),
      static_cast<double>(model.hbm_bytes) / (1 << 20));
  std::printf("  %-40s %12s %6s  %s\n", "operator", "instructions", "units", "mapping");
  for (const compiler::OpRecord& op : model.ops)
    std::printf("  %-40s %12llu %6llu  %s\n", op.label.c_str(),
                static_cast<unsigned long long>(op.instructions.all),
                static_cast<unsigned long long>(op.instructions.units), op.mapping.c_str());
  if (const auto& q = c.flags.options().quantization) {
    uint64_t constant_bytes = 0;
    for (const compiler::TensorSlot& t : model.tensors)
      if (t.role == compiler::TensorRole::kConstant) constant_bytes += t.bytes;
    const auto name = [](compiler::passes::QuantFormat f) {
      return std::string(compiler::passes::quant_format_name(f));
    };
    std::printf("quantized: weights %s, activations %s; constants %llu bytes\n",
                name(q->weights).c_str(), name(q->activations).c_str(),
                static_cast<unsigned long long>(constant_bytes));
  }
  if (!c.output.empty()) {
    runtime::save_model(model, c.output);
    std::printf("wrote %s\n", c.output.c_str());
  }
}

// ---- run ----

struct RunCommand {
  std::string model;
  std::vector<std::string> inputs;  // name=file.pb
  std::string output_dir, json, stats, trace;
  bool timing_only = false;
  CompileFlags flags;
  ChipOptions chip;
};

void run_run(const RunCommand& c) {
  sim::Simulation* running = nullptr;
  InterruptGuard guard([&] {
    if (running) running->request_stop();
  });
  const LoadedChip chip = c.chip.load();
  std::map<std::string, ir::HostTensor> inputs;
  for (const std::string& spec : c.inputs) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0)
      throw InputError("--input '" + spec + "': expected NAME=FILE.pb");
    inputs[spec.substr(0, eq)] = compiler::frontend::load_onnx_tensor(spec.substr(eq + 1));
  }
  compiler::CompiledModel model;
  if (fs::path(c.model).extension() == ".scp") {
    model = runtime::load_model(c.model);
  } else {
    // Inputs that fix shapes (Slice starts, reduction axes, ...) are compiled into the program.
    ir::Graph graph = compiler::frontend::load_onnx_model(c.model);
    for (const std::string& name : compiler::passes::specialize_shape_inputs(graph, inputs)) {
      std::printf("compiled for %s as given\n", name.c_str());
      inputs.erase(name);
    }
    model = compiler::compile_graph(std::move(graph), chip, c.flags.options());
  }
  runtime::RunOptions options;
  options.functional = !c.timing_only;
  options.trace_path = c.trace;
  options.progress = progress_printer("run");
  options.on_start = [&](sim::Simulation& s) {
    running = &s;
    if (InterruptGuard::interrupted()) s.request_stop();
  };
  const runtime::RunResult r = runtime::run_model(model, chip, inputs, options);
  running = nullptr;
  end_progress();

  std::printf("%s on %s (%s): %llu cycles, %.3f us\n", model.graph_name.c_str(),
              chip.config.name.c_str(), c.timing_only ? "timing-only" : "functional + timing",
              static_cast<unsigned long long>(r.sim.core_cycles), r.sim.seconds * 1e6);
  for (size_t o = 0; o < model.outputs.size(); ++o) {
    const compiler::TensorSlot& t = model.tensors[model.outputs[o]];
    std::printf("  output %-24s %s\n", t.name.c_str(),
                dims_text({t.host_element, t.type.dims}).c_str());
  }
  std::printf("\n  %-36s %-10s %10s %7s %6s %12s %5s %8s  %s\n", "operator", "op", "cycles",
              "share", "MXU", "HBM bytes", "cores", "instr", "bound");
  uint64_t sum = 0;
  nlohmann::json ops = nlohmann::json::array();
  for (const runtime::OpStats& s : r.ops) {
    std::printf("  %-36.36s %-10.10s %10llu %6.1f%% %6.3f %12.0f %5d %8llu  %s\n", s.label.c_str(),
                s.op.c_str(), static_cast<unsigned long long>(s.cycles), 100 * s.share,
                s.mxu_utilization, s.hbm_bytes, s.cores_busy,
                static_cast<unsigned long long>(s.instructions.all), s.bound.c_str());
    sum += s.cycles;
    ops.push_back(
        {{"label", s.label},
         {"op", s.op},
         {"mapping", s.mapping},
         {"cycles", figure(static_cast<double>(s.cycles), "cycles")},
         {"share", figure(s.share, "ratio")},
         {"mxu_utilization", figure(s.mxu_utilization, "ratio")},
         {"hbm_bytes", figure(s.hbm_bytes, "bytes")},
         {"cores_busy", figure(s.cores_busy, "cores")},
         {"instructions", figure(static_cast<double>(s.instructions.all), "instructions")},
         {"unit_instructions", figure(static_cast<double>(s.instructions.units), "instructions")},
         {"bound", s.bound}});
  }
  std::printf("  %-36s %-10s %10llu\n", "total", "", static_cast<unsigned long long>(sum));
  if (!c.output_dir.empty() && !r.outputs.empty()) {
    fs::create_directories(c.output_dir);
    for (size_t o = 0; o < r.outputs.size(); ++o) {
      const std::string path =
          (fs::path(c.output_dir) / ("output_" + std::to_string(o) + ".pb")).string();
      compiler::frontend::save_onnx_tensor(r.outputs[o], r.output_names[o], path);
    }
    std::printf("wrote %zu outputs to %s\n", r.outputs.size(), c.output_dir.c_str());
  }
  if (!c.json.empty())
    write_json(c.json,
               {{"model", model.graph_name},
                {"cycles", figure(static_cast<double>(r.sim.core_cycles), "cycles")},
                {"seconds", figure(r.sim.seconds, "s")},
                {"operators", ops}},
               &chip);
  if (!c.stats.empty()) write_json(c.stats, r.stats, &chip);
  if (!r.sim.completed)
    std::fprintf(stderr, "run: interrupted at %.3f us simulated; figures cover the run so far\n",
                 r.sim.seconds * 1e6);
}

// ---- conformance ----

struct ConformanceCommand {
  std::string filter, json, markdown, expect;
  std::vector<std::string> suites;
  std::string data_dir = runtime::kOnnxTestData;
  CompileFlags flags;
  ChipOptions chip;
};

void run_conformance_command(const ConformanceCommand& c) {
  InterruptGuard guard([] {});
  const LoadedChip chip = c.chip.load();
  runtime::ConformanceOptions o;
  o.data_dir = c.data_dir;
  if (!c.suites.empty()) o.suites = c.suites;
  o.filter = c.filter;
  o.compile = c.flags.options();
  o.compile.dump = nullptr;
  const bool tty = isatty(fileno(stderr));
  o.on_case = [&](const runtime::CaseResult& r, size_t done, size_t total) {
    if (tty)
      std::fprintf(stderr, "\r[%zu/%zu] %-60.60s", done, total, (r.suite + "/" + r.name).c_str());
  };
  o.stop_requested = [] { return InterruptGuard::interrupted(); };
  const std::vector<runtime::CaseResult> results = runtime::run_conformance(chip, o);
  if (tty) std::fprintf(stderr, "\n");
  int counts[3] = {0, 0, 0};
  for (const auto& r : results) {
    counts[static_cast<int>(r.status)]++;
    std::printf("%-11s %s/%s%s%s\n", std::string(runtime::status_name(r.status)).c_str(),
                r.suite.c_str(), r.name.c_str(), r.detail.empty() ? "" : ": ",
                r.detail.substr(0, 300).c_str());
  }
  std::printf("\n%zu cases: %d pass, %d fail, %d unsupported\n", results.size(), counts[0],
              counts[1], counts[2]);
  if (!c.json.empty()) {
    nlohmann::json cases = nlohmann::json::array();
    for (const auto& r : results)
      cases.push_back({{"suite", r.suite},
                       {"case", r.name},
                       {"status", std::string(runtime::status_name(r.status))},
                       {"ops", r.ops},
                       {"detail", r.detail},
                       {"unsupported_op", r.unsupported_op},
                       {"seconds", r.seconds}});
    write_json(c.json, {{"cases", cases}}, &chip);
  }
  if (!c.markdown.empty()) {
    std::ofstream out(c.markdown);
    out << runtime::conformance_markdown(results, "seedchip conformance --markdown " + c.markdown);
    if (!out) throw InputError(c.markdown + ": cannot write");
  }
  if (!c.expect.empty()) {
    // Every case listed must pass: a regression check for CTest.
    std::ifstream in(c.expect);
    if (!in) throw InputError(c.expect + ": cannot open the list of expected passes");
    std::set<std::string> passed;
    for (const auto& r : results)
      if (r.status == runtime::CaseStatus::kPass) passed.insert(r.suite + "/" + r.name);
    std::string line;
    int missing = 0;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      if (!passed.count(line)) {
        std::printf("REGRESSION: %s no longer passes\n", line.c_str());
        ++missing;
      }
    }
    if (missing) throw InputError(std::to_string(missing) + " expected passes failed");
  }
}

}  // namespace

void register_model(CLI::App& app) {
  {
    auto c = std::make_shared<CompileCommand>();
    CLI::App* cmd = app.add_subcommand("compile", "compile an ONNX model for a chip");
    cmd->add_option("MODEL", c->model, "model.onnx");
    cmd->add_option("-o,--output", c->output, "write the compiled program (.scp)");
    cmd->add_flag("--list-passes", c->list_passes, "list the compiler passes and exit");
    c->flags.add_to(*cmd);
    c->flags.add_quantization_to(*cmd);
    c->chip.add_to(*cmd);
    cmd->callback([c] { run_compile(*c); });
  }
  {
    auto c = std::make_shared<RunCommand>();
    CLI::App* cmd = app.add_subcommand("run", "run an ONNX model or compiled program on the chip");
    cmd->add_option("MODEL", c->model, "model.onnx or model.scp")->required();
    cmd->add_option("--input", c->inputs, "NAME=FILE.pb (TensorProto), repeatable");
    cmd->add_option("--output-dir", c->output_dir, "write each output as output_<i>.pb");
    cmd->add_flag("--timing-only", c->timing_only, "shapes only, no data");
    cmd->add_option("--json", c->json, "write the per-operator figures as JSON");
    cmd->add_option("--stats", c->stats, "write the full stats tree as JSON");
    cmd->add_option("--trace", c->trace, "write a Chrome/Perfetto trace");
    c->flags.add_to(*cmd);
    c->flags.add_quantization_to(*cmd);
    c->chip.add_to(*cmd);
    cmd->callback([c] { run_run(*c); });
  }
  {
    auto c = std::make_shared<ConformanceCommand>();
    CLI::App* cmd = app.add_subcommand(
        "conformance", "run the ONNX backend test data through compiler and simulator");
    cmd->add_option("--filter", c->filter, "regex on suite/case, e.g. 'node/test_(add|relu)'");
    cmd->add_option("--suite", c->suites,
                    "node, simple, pytorch-converted, pytorch-operator (repeatable; default all)");
    cmd->add_option("--data-dir", c->data_dir, "the test data root")
        ->default_val(runtime::kOnnxTestData);
    cmd->add_option("--json", c->json, "write every case's result as JSON");
    cmd->add_option("--markdown", c->markdown, "write the report (docs/conformance.md)");
    cmd->add_option("--expect", c->expect, "fail unless every case listed in this file passes");
    c->flags.add_to(*cmd, "bf16x6");
    c->chip.add_to(*cmd);
    cmd->callback([c] { run_conformance_command(*c); });
  }
}

}  // namespace seedchip::tools
