#pragma once
// Runs a compiled model on the simulated chip: checks that the program was compiled for this chip,
// places constants and bound inputs in HBM, runs the functional or timing-only simulation, reads
// the outputs back, and attributes cycles, MXU work and HBM traffic to each operator from the
// barrier that ends it.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "arch/chip_loader.h"
#include "compiler/codegen/compile.h"
#include "sim/chip/energy.h"
#include "sim/chip/simulation.h"

namespace seedchip::runtime {

struct RunOptions {
  bool functional = true;
  // false: functional only (sim/chip/simulation.h): the outputs of a timed run, to the bit, with
  // no clock; the operator table is empty and the simulated time zero. Needs `functional`.
  bool timing = true;
  std::string trace_path;
  std::function<void(double simulated_seconds)> progress;
  // Called once the simulation exists, so a caller can stop it (Ctrl-C).
  std::function<void(sim::Simulation&)> on_start;
};

struct OpStats {
  std::string label, op, mapping;
  uint64_t cycles = 0;
  double share = 0;            // of the whole run's cycles
  double mxu_utilization = 0;  // MACs over the chip's peak for these cycles
  double hbm_bytes = 0;
  std::string bound;   // "compute", "bandwidth" or "latency" (neither unit near its peak)
  int cores_busy = 0;  // cores whose MXU, VPU or DMA worked during the operator
  compiler::InstructionCounts instructions;  // the operator's code, over every core
};

struct RunResult {
  sim::RunResult sim;
  std::vector<compiler::ir::HostTensor> outputs;  // in the graph's output order (functional)
  std::vector<std::string> output_names;
  std::vector<OpStats> ops;
  nlohmann::json stats;
  sim::Energy energy;  // the chip's, from its counters and power model (sim/chip/energy.h)
};

// A compiled model resident on a simulated chip: the constructor checks that the program was
// compiled for this chip, places the constants in HBM and loads the program; run() binds the
// inputs, runs and reads the outputs. A functional-only model runs any number of times, as a host
// calls a loaded model once per token (constants are placed once); a timed one runs once, since its
// figures describe one run from an idle chip (std::logic_error on a second run).
//
// Inputs across runs: the first run needs every input (or its default). On a later run an input
// that is not given keeps the bytes it has in HBM: its value from the previous run, or, for an
// input that an in-place output is stored over (CompileOptions::in_place), the previous run's
// updated value; a given one (checked as on the first run) replaces them. So a state such as a KV
// cache pool is bound once and then updated in place, run after run, without crossing the host.
class LoadedModel {
 public:
  LoadedModel(const compiler::CompiledModel& model, const LoadedChip& chip,
              const RunOptions& options = {});
  ~LoadedModel();
  RunResult run(const std::map<std::string, compiler::ir::HostTensor>& inputs);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One run of a model on a new simulation: LoadedModel(model, chip, options).run(inputs).
// `inputs` by graph input name. Throws InputError when the model was compiled for another chip
// configuration, an input is missing (and has no default), or its type differs from the compiled
// one — naming the tensor and both types. f64 inputs of a model compiled with demote-f64 are
// converted to f32 (UnsupportedError for a finite value beyond the FP32 range) and its f64 outputs
// back; a fault of the chip during the run (an index out of range) is an InputError naming the
// operator that was running.
RunResult run_model(const compiler::CompiledModel& model, const LoadedChip& chip,
                    const std::map<std::string, compiler::ir::HostTensor>& inputs,
                    const RunOptions& options = {});

}  // namespace seedchip::runtime
