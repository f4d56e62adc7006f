#include "runtime/generate.h"

#include <cstring>

#include "arch/error.h"
#include "llm/llama_graph.h"

namespace seedchip::runtime {

namespace ir = compiler::ir;
using llm::DecodeGraphNames;

namespace {

template <typename T>
ir::HostTensor tensor_of(ir::ElementType element, std::vector<int64_t> dims,
                         const std::vector<T>& values) {
  ir::HostTensor t;
  t.element = element;
  t.dims = std::move(dims);
  t.bytes.resize(values.size() * sizeof(T));
  std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

// Row `row` of a [rows, n] f32 tensor.
std::vector<float> row_of(const ir::HostTensor& t, int64_t row, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  std::memcpy(out.data(), t.bytes.data() + static_cast<size_t>(row * n) * 4, out.size() * 4);
  return out;
}

int64_t pages_for(const DecoderOptions& d, int64_t context) {
  if (d.batch < 1)
    throw InputError("batch: " + std::to_string(d.batch) + " sequences; expected at least 1");
  if (d.page_rows < 1)
    throw InputError("KV page size: " + std::to_string(d.page_rows) +
                     " positions; expected at least 1");
  return d.batch * ((context + d.page_rows - 1) / d.page_rows);
}

compiler::CompileOptions in_place(compiler::CompileOptions options, const llm::LlamaConfig& c) {
  options.in_place = llm::decode_in_place(c);
  return options;
}

}  // namespace

ChipDecoder::ChipDecoder(const llm::LlamaModel& model, const LoadedChip& chip, int64_t context,
                         const compiler::CompileOptions& options, const DecoderOptions& decoder)
    : chip_(chip),
      config_(model.config),
      context_(context),
      options_(decoder),
      kv_(pages_for(decoder, context), decoder.page_rows),
      model_(compiler::compile_graph(
          llm::build_decode_graph(
              model, {decoder.batch, context, kv_.pool_rows()}, decoder.layer_outputs,
              decoder.experts.value_or(llm::cheaper_expert_form(model.config, decoder.batch))),
          chip, in_place(options, model.config))) {
  for (int64_t b = 0; b < options_.batch; ++b) slot_sequence_.push_back(kv_.add_sequence());
  const ir::HostTensor empty =
      tensor_of(ir::ElementType::F32, {kv_.pool_rows(), config_.kv_dim()},
                std::vector<float>(static_cast<size_t>(kv_.pool_rows() * config_.kv_dim()), 0.0f));
  for (int64_t l = 0; l < config_.n_layers; ++l) {
    pools_[DecodeGraphNames::k_pool(l)] = empty;
    pools_[DecodeGraphNames::v_pool(l)] = empty;
  }
  if (!options_.functional || !options_.time_every_step) step_timing_ = time_one_step();
  if (options_.functional && !options_.time_every_step) {
    RunOptions untimed;
    untimed.timing = false;
    resident_ = std::make_unique<LoadedModel>(model_, chip_, untimed);
  }
}

StepResult ChipDecoder::step(int token, int64_t pos) {
  const SlotStep one{token, pos};
  if (options_.batch != 1)
    throw InputError("a decoder of " + std::to_string(options_.batch) +
                     " slots steps all of them together");
  return step(std::span<const SlotStep>(&one, 1)).front();
}

std::vector<StepResult> ChipDecoder::step(std::span<const SlotStep> steps) {
  const auto batch = static_cast<size_t>(options_.batch);
  if (steps.size() != batch)
    throw InputError(std::to_string(steps.size()) + " slot steps for a batch of " +
                     std::to_string(batch));
  for (size_t b = 0; b < batch; ++b) {  // all checked before any page moves
    const SlotStep& s = steps[b];
    if (s.token < 0 || s.token >= config_.vocab_size)
      throw InputError("slot " + std::to_string(b) + ": token " + std::to_string(s.token) +
                       " is outside the vocabulary [0, " + std::to_string(config_.vocab_size) +
                       ")");
    if (s.pos < 0 || s.pos >= context_)
      throw InputError("slot " + std::to_string(b) + ": position " + std::to_string(s.pos) +
                       " is outside the context [0, " + std::to_string(context_) + ")");
    if (s.pos != 0 && s.pos != kv_.length(slot_sequence_[b]))
      throw InputError("slot " + std::to_string(b) + ": position " + std::to_string(s.pos) +
                       " does not follow its sequence's " +
                       std::to_string(kv_.length(slot_sequence_[b])) + " positions");
  }
  std::vector<int32_t> tokens, positions, slots;
  std::vector<int64_t> write_rows;
  for (size_t b = 0; b < batch; ++b) {
    if (steps[b].pos == 0) {
      kv_.release(slot_sequence_[b]);
      slot_sequence_[b] = kv_.add_sequence();
    }
    write_rows.push_back(kv_.append(slot_sequence_[b], steps[b].pos));
    tokens.push_back(steps[b].token);
    positions.push_back(static_cast<int32_t>(steps[b].pos));
    const std::vector<int32_t> rows = kv_.rows(slot_sequence_[b], context_);
    slots.insert(slots.end(), rows.begin(), rows.end());
  }
  if (!options_.functional) return std::vector<StepResult>(batch, step_timing_);

  const auto n = static_cast<int64_t>(batch);
  std::map<std::string, ir::HostTensor> inputs;
  inputs["token"] = tensor_of(ir::ElementType::I32, {n}, tokens);
  inputs["pos"] = tensor_of(ir::ElementType::I32, {n}, positions);
  inputs["slots"] = tensor_of(ir::ElementType::I32, {n, context_}, slots);
  inputs["write_slot"] = tensor_of(ir::ElementType::I64, {n, 1}, write_rows);
  const bool give_pools = !resident_ || !pools_placed_;
  if (give_pools) inputs.insert(pools_.begin(), pools_.end());
  StepResult figures;
  RunResult run;
  if (resident_) {
    run = resident_->run(inputs);  // the pools stay in its HBM, updated in place
    pools_placed_ = true;
    pools_.clear();
    figures = step_timing_;
  } else {
    run = run_model(model_, chip_, inputs);
    figures.cycles = run.sim.core_cycles;
    figures.seconds = run.sim.seconds;
    figures.ops = std::make_shared<const std::vector<OpStats>>(std::move(run.ops));
  }
  std::vector<StepResult> results(batch, figures);
  for (size_t o = 0; o < run.outputs.size(); ++o) {
    const std::string& name = run.output_names[o];
    if (name == "logits") {
      for (size_t b = 0; b < batch; ++b)
        results[b].logits = row_of(run.outputs[o], static_cast<int64_t>(b), config_.vocab_size);
      continue;
    }
    for (int64_t l = 0; l < config_.n_layers; ++l) {
      if (name == DecodeGraphNames::layer_output(l))
        for (size_t b = 0; b < batch; ++b) {
          results[b].layer_outputs.resize(static_cast<size_t>(config_.n_layers));
          results[b].layer_outputs[static_cast<size_t>(l)] =
              row_of(run.outputs[o], static_cast<int64_t>(b), config_.dim);
        }
      if (!resident_ && name == DecodeGraphNames::k_next(l))
        pools_[DecodeGraphNames::k_pool(l)] = run.outputs[o];
      if (!resident_ && name == DecodeGraphNames::v_next(l))
        pools_[DecodeGraphNames::v_pool(l)] = run.outputs[o];
    }
  }
  return results;
}

StepResult ChipDecoder::time_one_step() const {
  RunOptions timing_only;
  timing_only.functional = false;
  RunResult run = run_model(model_, chip_, {}, timing_only);
  StepResult r;
  r.cycles = run.sim.core_cycles;
  r.seconds = run.sim.seconds;
  r.ops = std::make_shared<const std::vector<OpStats>>(std::move(run.ops));
  return r;
}

ChipDecoder::~ChipDecoder() = default;

}  // namespace seedchip::runtime
