#include "runtime/generate.h"

#include <cstring>

#include "arch/error.h"
#include "llm/llama_graph.h"

namespace seedchip::runtime {

namespace ir = compiler::ir;
using llm::DecodeGraphNames;

namespace {

ir::HostTensor scalar_i32(int32_t value) {
  ir::HostTensor t;
  t.element = ir::ElementType::I32;
  t.dims = {1};
  t.bytes.resize(4);
  std::memcpy(t.bytes.data(), &value, 4);
  return t;
}

}  // namespace

ChipDecoder::ChipDecoder(const llm::LlamaModel& model, const LoadedChip& chip, int64_t context,
                         const compiler::CompileOptions& options, const DecoderOptions& decoder)
    : chip_(chip),
      config_(model.config),
      context_(context),
      options_(decoder),
      model_(compiler::compile_graph(llm::build_decode_graph(model, context, decoder.layer_outputs),
                                     chip, options)) {
  if (!options_.functional || !options_.time_every_step) step_timing_ = time_one_step();
  if (options_.functional && !options_.time_every_step) {
    RunOptions untimed;
    untimed.timing = false;
    resident_ = std::make_unique<LoadedModel>(model_, chip_, untimed);
  }
  ir::HostTensor empty;
  empty.element = ir::ElementType::F32;
  empty.dims = {context, config_.kv_dim()};
  empty.bytes.assign(static_cast<size_t>(context * config_.kv_dim()) * 4, 0);
  for (int64_t l = 0; l < config_.n_layers; ++l) {
    cache_[DecodeGraphNames::k_cache(l)] = empty;
    cache_[DecodeGraphNames::v_cache(l)] = empty;
  }
}

StepResult ChipDecoder::step(int token, int64_t pos) {
  if (token < 0 || token >= config_.vocab_size)
    throw InputError("token " + std::to_string(token) + " is outside the vocabulary [0, " +
                     std::to_string(config_.vocab_size) + ")");
  if (pos < 0 || pos >= context_)
    throw InputError("position " + std::to_string(pos) + " is outside the context [0, " +
                     std::to_string(context_) + ")");
  if (!options_.functional) return step_timing_;
  std::map<std::string, ir::HostTensor> inputs = cache_;
  inputs["token"] = scalar_i32(token);
  inputs["pos"] = scalar_i32(static_cast<int32_t>(pos));
  StepResult r;
  RunResult run;
  if (resident_) {
    run = resident_->run(inputs);
    r.cycles = step_timing_.cycles;
    r.seconds = step_timing_.seconds;
    r.ops = step_timing_.ops;
  } else {
    run = run_model(model_, chip_, inputs);
    r.cycles = run.sim.core_cycles;
    r.seconds = run.sim.seconds;
    r.ops = std::move(run.ops);
  }
  for (size_t o = 0; o < run.outputs.size(); ++o) {
    const std::string& name = run.output_names[o];
    if (name == "logits") {
      r.logits.resize(run.outputs[o].bytes.size() / 4);
      std::memcpy(r.logits.data(), run.outputs[o].bytes.data(), run.outputs[o].bytes.size());
      continue;
    }
    for (int64_t l = 0; l < config_.n_layers; ++l) {  // this step's new cache is the next's
      if (name == DecodeGraphNames::layer_output(l)) {
        r.layer_outputs.resize(static_cast<size_t>(config_.n_layers));
        auto& out = r.layer_outputs[static_cast<size_t>(l)];
        out.resize(run.outputs[o].bytes.size() / 4);
        std::memcpy(out.data(), run.outputs[o].bytes.data(), run.outputs[o].bytes.size());
      }
      if (name == DecodeGraphNames::k_next(l))
        cache_[DecodeGraphNames::k_cache(l)] = run.outputs[o];
      if (name == DecodeGraphNames::v_next(l))
        cache_[DecodeGraphNames::v_cache(l)] = run.outputs[o];
    }
  }
  return r;
}

StepResult ChipDecoder::time_one_step() const {
  RunOptions timing_only;
  timing_only.functional = false;
  RunResult run = run_model(model_, chip_, {}, timing_only);
  StepResult r;
  r.cycles = run.sim.core_cycles;
  r.seconds = run.sim.seconds;
  r.ops = std::move(run.ops);
  return r;
}

ChipDecoder::~ChipDecoder() = default;

}  // namespace seedchip::runtime
