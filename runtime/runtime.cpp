#include "runtime/runtime.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string_view>

#include "arch/chip_peaks.h"
#include "arch/error.h"
#include "sim/core/unit_timing.h"

namespace seedchip::runtime {

namespace {

namespace ir = compiler::ir;

// ONNX's Cast from string as its reference (Python's float) reads it: decimal or scientific
// notation within blanks, and NaN, INF or INFINITY in any case, signed or not. The text is parsed
// as a double, then rounded to f32 as numpy's astype does.
std::optional<float> parse_float(std::string_view text) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  double sign = 1;
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    sign = text.front() == '-' ? -1 : 1;
    text.remove_prefix(1);
  }
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "nan") return std::numeric_limits<float>::quiet_NaN();
  if (lower == "inf" || lower == "infinity")
    return static_cast<float>(sign * std::numeric_limits<double>::infinity());
  if (lower.empty() || !(std::isdigit(static_cast<unsigned char>(lower[0])) || lower[0] == '.'))
    return std::nullopt;
  double x = 0;
  const auto [end, error] = std::from_chars(lower.data(), lower.data() + lower.size(), x);
  if (end != lower.data() + lower.size()) return std::nullopt;
  // Beyond the double range: infinity or zero, as strtod (and Python) round it.
  if (error == std::errc::result_out_of_range) x = std::strtod(lower.c_str(), nullptr);
  return static_cast<float>(sign * x);
}

// ONNX's Cast to string as its reference writes an f32 (numpy's str): the shortest digits that
// read back to the same f32, positional for values from 1e-4 to 1e16 with at least one digit after
// the point ("100.0", "0.001"), scientific outside ("1e-05", "1.5e+16"; "1e-04" for the f32
// nearest 0.0001, which is below it), and "nan", "inf", "-inf".
std::string format_float(float x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x < 0 ? "-inf" : "inf";
  char buffer[32];
  const auto result =
      std::to_chars(buffer, buffer + sizeof buffer, x, std::chars_format::scientific);
  const std::string scientific(buffer, result.ptr);
  const size_t e = scientific.find('e');
  const int exponent = std::stoi(scientific.substr(e + 1));
  const double magnitude = std::fabs(static_cast<double>(x));
  if (magnitude != 0 && (magnitude < 1e-4 || magnitude >= 1e16)) return scientific;
  std::string digits;
  for (size_t i = 0; i < e; ++i)
    if (std::isdigit(static_cast<unsigned char>(scientific[i]))) digits += scientific[i];
  std::string out = std::signbit(x) ? "-" : "";
  if (exponent < 0)
    return out + "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
  const auto whole = static_cast<size_t>(exponent) + 1;
  if (digits.size() <= whole) return out + digits + std::string(whole - digits.size(), '0') + ".0";
  return out + digits.substr(0, whole) + "." + digits.substr(whole);
}

// The tensor with its elements converted to `to`, for the graph inputs and outputs the chip holds
// in another type (TensorSlot::host_element): f64 and f32 either way (demote-f64: a finite f64
// beyond the FP32 range would become infinite, so that input is refused rather than computed
// wrongly), strings parsed into f32, and f32 formatted as strings.
ir::HostTensor converted(const ir::HostTensor& t, ir::ElementType to, const std::string& name) {
  ir::HostTensor out;
  out.element = to;
  out.dims = t.dims;
  const auto n = static_cast<size_t>(t.element_count());
  if (to == ir::ElementType::String) {
    for (size_t i = 0; i < n; ++i) {
      float f;
      std::memcpy(&f, t.bytes.data() + i * 4, 4);
      out.strings.push_back(format_float(f));
    }
    return out;
  }
  if (t.element == ir::ElementType::String && t.strings.size() != n)
    throw InputError("input '" + name + "': dims " + ir::type_text(t.type()) + " need " +
                     std::to_string(n) + " strings, the tensor holds " +
                     std::to_string(t.strings.size()));
  out.bytes.resize(n * ir::element_bytes(to));
  for (size_t i = 0; i < n; ++i) {
    if (t.element == ir::ElementType::String) {
      const std::optional<float> f = parse_float(t.strings[i]);
      if (!f)
        throw InputError("input '" + name + "': element " + std::to_string(i) + " (\"" +
                         t.strings[i] + "\") is not a number the model's Cast to f32 can read");
      std::memcpy(out.bytes.data() + i * 4, &*f, 4);
    } else if (to == ir::ElementType::F32) {
      double x;
      std::memcpy(&x, t.bytes.data() + i * 8, 8);
      const auto f = static_cast<float>(x);
      if (std::isinf(f) && std::isfinite(x))
        throw compiler::UnsupportedError(
            "f64", "input '" + name + "': element " + std::to_string(i) + " (" + std::to_string(x) +
                       ") is beyond the FP32 range in which the chip computes f64 tensors");
      std::memcpy(out.bytes.data() + i * 4, &f, 4);
    } else {
      float f;
      std::memcpy(&f, t.bytes.data() + i * 4, 4);
      const double x = f;
      std::memcpy(out.bytes.data() + i * 8, &x, 8);
    }
  }
  return out;
}

// Chip-wide counters at one instant, summed over cores.
struct Counters {
  double macs = 0, hbm_bytes = 0;
  std::vector<double> unit_busy;  // per core: MXU + VPU + DMA busy cycles
};

Counters read_counters(sim::Simulation& s) {
  Counters c;
  for (int core = 0; core < s.core_count(); ++core) {
    const std::string p = "chip.core" + std::to_string(core) + ".";
    c.macs += s.stats().get(p + "mxu.macs");
    c.unit_busy.push_back(s.stats().get(p + "mxu.busy_cycles") +
                          s.stats().get(p + "vpu.busy_cycles") +
                          s.stats().get(p + "dma.busy_cycles"));
  }
  c.hbm_bytes = s.stats().get("chip.hbm.bytes");
  return c;
}

}  // namespace

struct LoadedModel::Impl {
  const compiler::CompiledModel& model;
  const LoadedChip& chip;
  RunOptions options;
  std::unique_ptr<sim::Simulation> sim;
  // Counters when each barrier opens (timed runs): the operators are the stretches between them.
  std::vector<Counters> at_barrier;
  std::vector<size_t> op_end_barrier;  // per operator: the barriers passed when it has ended
  size_t barriers_passed = 0;          // in this run, on chip 0
  bool ran = false;
  // The sequence and optional inputs bound (CompiledModel::passed_through), kept across runs as
  // HBM keeps the others.
  std::map<std::string, ir::HostTensor> passed_values;

  Impl(const compiler::CompiledModel& m, const LoadedChip& c, const RunOptions& o)
      : model(m), chip(c), options(o) {
    if (model.chip_config != resolved_config_yaml(chip))
      throw InputError("the model was compiled for chip '" + model.chip_name +
                       "' (with its configuration); this run is for '" + chip.config.name +
                       "' with a different configuration: recompile it for this chip");
    sim::SimulationOptions sim_options;
    sim_options.functional = options.functional;
    sim_options.timing = options.timing;
    sim_options.trace_path = options.trace_path;
    sim_options.on_barrier = [this](int chip_index) {
      if (chip_index != 0) return;
      ++barriers_passed;
      if (this->options.timing && sim) at_barrier.push_back(read_counters(*sim));
    };
    sim = std::make_unique<sim::Simulation>(chip.config, sim_options);
    if (options.on_start) options.on_start(*sim);
    if (options.functional)
      for (size_t i = 0; i < model.tensors.size(); ++i) {
        const compiler::TensorSlot& t = model.tensors[i];
        if (!is_input(i) && t.data && !t.data->bytes.empty())
          sim->hbm_data(0).write(t.hbm, t.data->bytes.data(), t.data->bytes.size());
      }
    sim->load(model.program);
    size_t barriers = 0;
    for (const compiler::OpRecord& op : model.ops) {
      barriers += static_cast<size_t>(op.barriers);
      op_end_barrier.push_back(barriers);
    }
  }

  bool is_input(size_t tensor) const {
    return std::count(model.inputs.begin(), model.inputs.end(), tensor) > 0;
  }

  // Checks each given input against the compiled type and places it (or the input's default) in
  // HBM. After the first run an input that is not given keeps the bytes it has in HBM.
  void bind(const std::map<std::string, ir::HostTensor>& inputs, bool first_run) {
    for (const auto& [name, tensor] : inputs) {
      const bool known = std::any_of(model.inputs.begin(), model.inputs.end(),
                                     [&](size_t i) { return model.tensors[i].name == name; });
      if (!known) throw InputError("input '" + name + "' is not an input of the model");
    }
    for (size_t i : model.inputs) {
      const compiler::TensorSlot& t = model.tensors[i];
      const ir::HostTensor* data = t.data.get();
      ir::HostTensor demoted;
      const ir::TensorType bound{t.host_element, t.type.dims};
      auto it = inputs.find(t.name);
      if (!t.type.containers.empty()) {
        if (it != inputs.end()) {
          const std::string mismatch = ir::type_mismatch(it->second, t.type);
          if (!mismatch.empty()) throw InputError("input '" + t.name + "': " + mismatch);
          passed_values[t.name] = it->second;
        } else if (first_run) {
          throw InputError("input '" + t.name + "' (" + ir::type_text(t.type) + ") is not given");
        }
        continue;
      }
      if (it != inputs.end() && it->second.container)
        throw InputError("input '" + t.name + "': expected " + ir::type_text(bound) +
                         ", the value is a " +
                         std::string(ir::container_name(*it->second.container)));
      if (it != inputs.end() && t.unread) {
        if (it->second.element != t.host_element)
          throw InputError("input '" + t.name + "': the model was compiled for " +
                           std::string(ir::element_name(t.host_element)) +
                           " elements (only its element type is used), the data is " +
                           ir::type_text(it->second.type()));
        continue;
      }
      if (it != inputs.end()) {
        if (it->second.type() != bound)
          throw InputError("input '" + t.name + "': the model was compiled for " +
                           ir::type_text(bound) + ", the data is " +
                           ir::type_text(it->second.type()));
        data = &it->second;
        if (t.host_element != t.type.element) {
          demoted = converted(it->second, t.type.element, t.name);
          data = &demoted;
        }
      } else if (!first_run) {
        continue;  // keeps its bytes: the previous run's value (an in-place output's, say)
      } else if (!data && options.functional) {
        throw InputError("input '" + t.name + "' (" + ir::type_text(bound) + ") is not given");
      }
      if (options.functional && data && !data->bytes.empty())
        sim->hbm_data(0).write(t.hbm, data->bytes.data(), data->bytes.size());
    }
  }

  // Each operator's cycles, MXU work, HBM traffic and bound, from the counters at its last barrier.
  void attribute_to_operators(RunResult& result) {
    const std::vector<sim::Tick>& releases = sim->barrier_releases(0);
    const double peak_macs_per_cycle = static_cast<double>(chip.config.core_count()) *
                                       chip.config.mxu.rows * chip.config.mxu.cols *
                                       sim::mxu_macs_per_pe(chip.config.mxu, DataType::BF16);
    const double hbm_bytes_per_cycle =
        chip_peaks(chip.config).hbm_gbytes_per_s * 1e9 / (chip.config.core.clock_mhz * 1e6);
    const sim::ClockDomain& core_clock = sim->clocks().domain("core");
    sim::Tick previous = 0;
    Counters before;
    size_t last_with_code = model.ops.size();
    for (size_t i = 0; i < model.ops.size(); ++i)
      if (model.ops[i].barriers > 0) last_with_code = i;
    for (size_t i = 0; i < model.ops.size(); ++i) {
      if (model.ops[i].barriers == 0) {  // an alias: no code, no time
        result.ops.push_back({model.ops[i].label, model.ops[i].op, model.ops[i].mapping, 0, 0, 0, 0,
                              "none", 0, model.ops[i].instructions});
        continue;
      }
      const size_t b = op_end_barrier[i];
      if (b < 1 || b > releases.size() || b > at_barrier.size()) break;  // stopped early
      OpStats s;
      s.label = model.ops[i].label;
      s.op = model.ops[i].op;
      s.mapping = model.ops[i].mapping;
      s.instructions = model.ops[i].instructions;
      // The last operator also owns the drain to the halt after its barrier, so the table adds up
      // to the run's cycles.
      const bool last = i == last_with_code && result.sim.completed;
      const uint64_t end_cycle =
          last ? result.sim.core_cycles : core_clock.cycle_at(releases[b - 1]);
      s.cycles = end_cycle - core_clock.cycle_at(previous);
      const Counters& after = at_barrier[b - 1];
      s.hbm_bytes = after.hbm_bytes - before.hbm_bytes;
      for (size_t core = 0; core < after.unit_busy.size(); ++core)
        if (after.unit_busy[core] > (before.unit_busy.empty() ? 0 : before.unit_busy[core]))
          ++s.cores_busy;
      const double cycles = static_cast<double>(std::max<uint64_t>(s.cycles, 1));
      s.mxu_utilization = (after.macs - before.macs) / (cycles * peak_macs_per_cycle);
      const double hbm_fraction = s.hbm_bytes / (cycles * hbm_bytes_per_cycle);
      // The unit closest to its peak bounds the operator; neither near its peak: latency.
      if (std::max(s.mxu_utilization, hbm_fraction) < 0.5)
        s.bound = "latency";
      else
        s.bound = s.mxu_utilization >= hbm_fraction ? "compute" : "bandwidth";
      previous = releases[b - 1];
      before = after;
      result.ops.push_back(std::move(s));
    }
    const double total = static_cast<double>(std::max<uint64_t>(result.sim.core_cycles, 1));
    for (OpStats& s : result.ops) s.share = static_cast<double>(s.cycles) / total;
  }

  RunResult run(const std::map<std::string, ir::HostTensor>& inputs) {
    const bool first_run = !ran;
    if (ran) {
      if (options.timing)
        throw std::logic_error("LoadedModel::run: a timed model runs once; load it again");
      sim->restart();
    }
    ran = true;
    barriers_passed = 0;
    bind(inputs, first_run);
    RunResult result;
    try {
      result.sim = sim->run(options.progress);
    } catch (const InputError& e) {
      // A fault of the chip (an index out of range, say) named by the operator that was running.
      for (size_t i = 0; i < model.ops.size(); ++i)
        if (op_end_barrier[i] > barriers_passed)
          throw InputError(model.ops[i].label + ": " + e.what());
      throw;
    }
    if (options.timing) {
      result.stats = sim->stats_json(result.sim);
      result.energy = sim::dynamic_energy(chip.config, sim->stats());
      result.energy.static_j = sim::static_energy_j(chip.config.power, result.sim.seconds);
      attribute_to_operators(result);
    }
    if (options.functional && result.sim.completed) {
      for (size_t i : model.outputs) {
        const compiler::TensorSlot& t = model.tensors[i];
        if (const auto passed = model.passed_through.find(t.name);
            passed != model.passed_through.end()) {
          result.outputs.push_back(passed_values.at(passed->second));
          result.output_names.push_back(t.name);
          continue;
        }
        ir::HostTensor out;
        out.element = t.type.element;
        out.dims = *t.type.dims;
        out.bytes.resize(t.bytes);
        sim->hbm_data(0).read(t.hbm, out.bytes.data(), out.bytes.size());
        if (t.host_element != t.type.element) out = converted(out, t.host_element, t.name);
        result.outputs.push_back(std::move(out));
        result.output_names.push_back(t.name);
      }
    }
    return result;
  }
};

LoadedModel::LoadedModel(const compiler::CompiledModel& model, const LoadedChip& chip,
                         const RunOptions& options)
    : impl_(std::make_unique<Impl>(model, chip, options)) {}
LoadedModel::~LoadedModel() = default;

RunResult LoadedModel::run(const std::map<std::string, ir::HostTensor>& inputs) {
  return impl_->run(inputs);
}

RunResult run_model(const compiler::CompiledModel& model, const LoadedChip& chip,
                    const std::map<std::string, ir::HostTensor>& inputs,
                    const RunOptions& options) {
  return LoadedModel(model, chip, options).run(inputs);
}

}  // namespace seedchip::runtime
