#include "compiler/codegen/compile.h"

#include <algorithm>
#include <map>
#include <set>

#include "arch/chip_loader.h"
#include "compiler/codegen/lowering.h"
#include "compiler/passes/pass.h"
#include "compiler/passes/unroll_loops.h"

namespace seedchip::compiler {

namespace {

constexpr uint64_t kTensorAlign = 4096;

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

uint64_t bytes_of(const ir::TensorType& t) {
  return static_cast<uint64_t>(t.element_count()) * ir::element_bytes(t.element);
}

// First-fit allocation of HBM ranges with coalescing of freed neighbours.
class RangeAllocator {
 public:
  explicit RangeAllocator(uint64_t base) : end_(base) {}
  uint64_t allocate(uint64_t bytes) {
    bytes = align_up(std::max<uint64_t>(bytes, 1), kTensorAlign);
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->second < bytes) continue;
      const uint64_t at = it->first, left = it->second - bytes;
      free_.erase(it);
      if (left) free_[at + bytes] = left;
      return at;
    }
    const uint64_t at = end_;
    end_ += bytes;
    return at;
  }
  void release(uint64_t at, uint64_t bytes) {
    bytes = align_up(std::max<uint64_t>(bytes, 1), kTensorAlign);
    auto [it, inserted] = free_.emplace(at, bytes);
    auto next = std::next(it);
    if (next != free_.end() && at + it->second == next->first) {
      it->second += next->second;
      free_.erase(next);
    }
    if (it != free_.begin()) {
      auto prev = std::prev(it);
      if (prev->first + prev->second == at) {
        prev->second += it->second;
        free_.erase(it);
      }
    }
  }
  uint64_t end() const { return end_; }

 private:
  std::map<uint64_t, uint64_t> free_;
  uint64_t end_;
};

// Ops whose output is their first input's bytes under another shape, or in another order
// (seedchip::TransposeView, passes/choose_layout.h).
bool is_alias_op(const ir::Node& node) {
  if (node.domain == "seedchip") return node.op == "TransposeView";
  if (!node.domain.empty() && node.domain != "ai.onnx") return false;
  return node.op == "Reshape" || node.op == "Flatten" || node.op == "Squeeze" ||
         node.op == "Unsqueeze" || node.op == "Identity";
}

bool is_onnx_op(const ir::Node& node, std::string_view op) {
  return (node.domain.empty() || node.domain == "ai.onnx") && node.op == op;
}

// Table keys are ONNX op names, and "domain::Op" for other domains (SeedChip's fused ops).
const OpLowering* find_lowering(const ir::Node& node) {
  const bool onnx = node.domain.empty() || node.domain == "ai.onnx";
  const std::string key = onnx ? node.op : node.domain + "::" + node.op;
  for (const OpLowering& l : lowering_table())
    if (l.op == key) return &l;
  return nullptr;
}

// ONNX's TensorProto data type FLOAT, as Cast's `to` names it.
constexpr int64_t kOnnxFloat = 1;

// Identity nodes from a sequence or optional graph input to a graph output, taken out of the graph
// (output name -> input name): the runtime passes those values through on the host. The input
// leaves the graph's inputs unless another node reads it, which the check of used values then
// refuses.
std::map<std::string, std::string> take_pass_through(ir::Graph& graph) {
  std::map<std::string, std::string> passed;
  const auto listed = [](const std::vector<ir::ValueId>& list, ir::ValueId v) {
    return std::count(list.begin(), list.end(), v) > 0;
  };
  for (size_t i = 0; i < graph.nodes.size();) {
    const ir::Node& n = graph.nodes[i];
    const bool pass_through =
        is_onnx_op(n, "Identity") && n.inputs.size() == 1 && n.outputs.size() == 1 &&
        n.inputs[0] != ir::kNoValue && listed(graph.inputs, n.inputs[0]) &&
        !graph.value(n.inputs[0]).type.containers.empty() && listed(graph.outputs, n.outputs[0]);
    if (!pass_through) {
      ++i;
      continue;
    }
    const ir::ValueId in = n.inputs[0], out = n.outputs[0];
    passed[graph.value(out).name] = graph.value(in).name;
    graph.nodes.erase(graph.nodes.begin() + static_cast<std::ptrdiff_t>(i));
    std::erase(graph.outputs, out);
    const bool read = listed(graph.outputs, in) ||
                      std::any_of(graph.nodes.begin(), graph.nodes.end(),
                                  [&](const ir::Node& m) { return listed(m.inputs, in); });
    if (!read) std::erase(graph.inputs, in);
  }
  return passed;
}

// The chip holds no strings: a string graph input that only Cast/CastLike read becomes their f32
// input, which the runtime parses on binding, and a graph output that a Cast/CastLike to string
// makes from an f32 tensor becomes that f32, which the runtime formats. Their names get the host
// element string in `host_elements`. A string input read only as CastLike's second operand, for
// its element type, stays as it is: its bytes never reach the chip.
void convert_strings_at_boundary(ir::Graph& graph, std::map<std::string, ir::ElementType>& host,
                                 const std::string& where) {
  const auto is_string = [&](ir::ValueId v) {
    return v != ir::kNoValue && graph.value(v).type.element == ir::ElementType::String &&
           graph.value(v).type.containers.empty();
  };
  const auto unsupported = [&](const std::string& name, const std::string& why) {
    throw UnsupportedError("string", where + "string tensor '" + name + "' " + why +
                                         ": the chip holds no strings, so only a graph input "
                                         "cast to f32 and a graph output cast from f32 are "
                                         "converted, on the host");
  };
  for (ir::ValueId v : graph.inputs) {
    if (!is_string(v)) continue;
    ir::Value& value = graph.value(v);
    bool cast = false;
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
      const ir::Node& n = graph.nodes[i];
      for (size_t k = 0; k < n.inputs.size(); ++k) {
        if (n.inputs[k] != v || (k == 1 && is_onnx_op(n, "CastLike"))) continue;
        if (k != 0 || !(is_onnx_op(n, "Cast") || is_onnx_op(n, "CastLike")))
          unsupported(value.name, "is read by " + n.label(i));
        const ir::ElementType to = graph.value(n.outputs.at(0)).type.element;
        if (to != ir::ElementType::F32)
          unsupported(value.name, "is cast to " + std::string(ir::element_name(to)) + " by " +
                                      n.label(i) + " (the runtime parses strings into f32 only)");
        cast = true;
      }
    }
    if (!cast) continue;
    value.type.element = ir::ElementType::F32;
    host[value.name] = ir::ElementType::String;
  }
  const std::vector<int> producers = graph.producers();
  for (ir::ValueId v : graph.outputs) {
    if (!is_string(v) || std::count(graph.inputs.begin(), graph.inputs.end(), v) > 0) continue;
    ir::Value& value = graph.value(v);
    const int p = producers[static_cast<size_t>(v)];
    if (p < 0) unsupported(value.name, "is a constant graph output");
    ir::Node& n = graph.nodes[static_cast<size_t>(p)];
    if (!is_onnx_op(n, "Cast") && !is_onnx_op(n, "CastLike"))
      unsupported(value.name, "is made by " + n.label(static_cast<size_t>(p)));
    const ir::ElementType from = graph.value(n.inputs.at(0)).type.element;
    if (from != ir::ElementType::F32)
      unsupported(value.name, "is cast from " + std::string(ir::element_name(from)) + " by " +
                                  n.label(static_cast<size_t>(p)) +
                                  " (the runtime formats f32 only)");
    for (size_t i = 0; i < graph.nodes.size(); ++i)
      if (std::count(graph.nodes[i].inputs.begin(), graph.nodes[i].inputs.end(), v) > 0)
        unsupported(value.name, "is read by " + graph.nodes[i].label(i));
    if (is_onnx_op(n, "Cast")) n.attributes["to"] = kOnnxFloat;
    value.type.element = from;
    host[value.name] = ir::ElementType::String;
  }
}

}  // namespace

std::string_view precision_name(MatmulPrecision p) {
  switch (p) {
    case MatmulPrecision::kBf16:
      return "bf16";
    case MatmulPrecision::kBf16x3:
      return "bf16x3";
    case MatmulPrecision::kBf16x6:
      return "bf16x6";
  }
  return "?";
}

MatmulPrecision precision_from_name(std::string_view name) {
  for (MatmulPrecision p :
       {MatmulPrecision::kBf16, MatmulPrecision::kBf16x3, MatmulPrecision::kBf16x6})
    if (precision_name(p) == name) return p;
  throw InputError("matmul precision '" + std::string(name) +
                   "' is not one of bf16, bf16x3, bf16x6");
}

std::vector<std::string> lowered_ops() {
  std::vector<std::string> ops;
  for (const OpLowering& l : lowering_table()) ops.emplace_back(l.op);
  std::sort(ops.begin(), ops.end());
  return ops;
}

CompiledModel compile_graph(ir::Graph graph, const LoadedChip& loaded,
                            const CompileOptions& options) {
  const ChipConfig& chip = loaded.config;
  // The interface in the graph's order, whatever the host does at the boundary.
  std::vector<std::string> input_names, output_names;
  for (ir::ValueId v : graph.inputs) input_names.push_back(graph.value(v).name);
  for (ir::ValueId v : graph.outputs) output_names.push_back(graph.value(v).name);
  std::map<std::string, ir::TensorType> passed_types;
  for (const auto& list : {graph.inputs, graph.outputs})
    for (ir::ValueId v : list) passed_types[graph.value(v).name] = graph.value(v).type;
  const std::map<std::string, std::string> passed_through = take_pass_through(graph);
  // Interface types before the passes: demote-f64 changes f64 inputs and outputs to f32.
  std::map<std::string, ir::ElementType> host_elements;
  for (const auto& list : {graph.inputs, graph.outputs})
    for (ir::ValueId v : list)
      if (graph.value(v).type.element == ir::ElementType::F64)
        host_elements[graph.value(v).name] = ir::ElementType::F64;
  std::vector<std::string> pipeline =
      options.passes.empty() ? passes::default_pipeline() : options.passes;
  std::vector<passes::Pass> bound;
  if (options.quantization) {
    // After folding (the weights must be folded constants and every type known), before fusion:
    // a product that fused with its epilogue would no longer be a MatMul to quantize.
    bound.push_back(passes::quantize_pass(*options.quantization));
    const auto fuse = std::find(pipeline.begin(), pipeline.end(), "fuse");
    pipeline.insert(fuse, std::string(bound.back().name));
  }
  passes::run_passes(graph, pipeline, options.dump_ir_after, options.dump, bound);
  const std::string where = "graph '" + graph.name + "': ";
  convert_strings_at_boundary(graph, host_elements, where);

  // Every op must have a lowering; name them all at once.
  std::set<std::string> missing;
  std::string first_missing;
  std::string loop_blocker;  // why the first Loop left was not unrolled
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const ir::Node& n = graph.nodes[i];
    if (find_lowering(n)) continue;
    const std::string op = n.domain.empty() ? n.op : n.domain + "::" + n.op;
    if (missing.insert(op).second && first_missing.empty()) first_missing = op;
    if (op == "Loop" && loop_blocker.empty()) loop_blocker = passes::unroll_blocker(graph, i);
  }
  if (!missing.empty()) {
    std::string list;
    for (const std::string& m : missing) list += (list.empty() ? "" : ", ") + m;
    throw UnsupportedError(first_missing,
                           where + "no lowering for " + list +
                               (loop_blocker.empty() ? "" : " (" + loop_blocker + ")"));
  }

  std::vector<bool> used(graph.values.size(), false);
  for (const ir::Node& n : graph.nodes) {
    for (ir::ValueId v : n.inputs)
      if (v != ir::kNoValue) used[static_cast<size_t>(v)] = true;
    for (ir::ValueId v : n.outputs)
      if (v != ir::kNoValue) used[static_cast<size_t>(v)] = true;
  }
  for (ir::ValueId v : graph.inputs) used[static_cast<size_t>(v)] = true;
  for (ir::ValueId v : graph.outputs) used[static_cast<size_t>(v)] = true;
  std::vector<bool> bytes_read(graph.values.size(), false);
  for (const ir::Node& n : graph.nodes)
    for (size_t i = 0; i < n.inputs.size(); ++i)
      if (n.inputs[i] != ir::kNoValue && !(i == 1 && is_onnx_op(n, "CastLike")))
        bytes_read[static_cast<size_t>(n.inputs[i])] = true;
  for (ir::ValueId v : graph.outputs) bytes_read[static_cast<size_t>(v)] = true;
  for (size_t v = 0; v < graph.values.size(); ++v) {
    if (!used[v]) continue;
    const ir::Value& value = graph.values[v];
    if (!value.type.containers.empty())
      throw UnsupportedError(std::string(ir::container_name(value.type.containers.front())),
                             where + "'" + value.name + "' is a " + ir::type_text(value.type) +
                                 ", which the chip does not hold: only an Identity from a graph "
                                 "input to a graph output passes one through, on the host");
    if (value.type.element == ir::ElementType::String) {
      const bool unread_input =
          !bytes_read[v] &&
          std::count(graph.inputs.begin(), graph.inputs.end(), static_cast<ir::ValueId>(v)) > 0;
      if (unread_input && value.type.fully_known()) continue;
      throw UnsupportedError("string", where + "string tensor '" + value.name +
                                           "': the chip holds no strings, so only a graph input "
                                           "cast to f32 and a graph output cast from f32 are "
                                           "converted, on the host");
    }
    if (!value.type.fully_known())
      throw UnsupportedError("shape", where + "tensor '" + value.name + "' has no fully known " +
                                          "numeric type and shape after shape inference");
  }

  CompiledModel model;
  model.chip_name = chip.name;
  model.chip_config = resolved_config_yaml(loaded);
  model.graph_name = graph.name;
  std::vector<int64_t> slot_of(graph.values.size(), -1);
  auto add_slot = [&](size_t v, TensorRole role, uint64_t hbm) {
    const ir::Value& value = graph.values[v];
    slot_of[v] = static_cast<int64_t>(model.tensors.size());
    const auto it = host_elements.find(value.name);
    const ir::ElementType host = it == host_elements.end() ? value.type.element : it->second;
    model.tensors.push_back(
        {value.name, role, value.type, hbm, bytes_of(value.type), value.constant, host});
  };

  // Pinned tensors first: inputs, outputs and constants live for the whole program.
  std::vector<bool> pinned(graph.values.size(), false);
  for (ir::ValueId v : graph.inputs) pinned[static_cast<size_t>(v)] = true;
  for (ir::ValueId v : graph.outputs) pinned[static_cast<size_t>(v)] = true;
  for (size_t v = 0; v < graph.values.size(); ++v) {
    if (!used[v]) continue;
    if (graph.values[v].constant) pinned[v] = true;
    if (!pinned[v]) continue;
    const bool is_input =
        std::count(graph.inputs.begin(), graph.inputs.end(), static_cast<ir::ValueId>(v)) > 0;
    const TensorRole role = is_input                   ? TensorRole::kInput
                            : graph.values[v].constant ? TensorRole::kConstant
                                                       : TensorRole::kOutput;
    add_slot(v, role, 0);
  }
  for (ir::ValueId v : graph.inputs) {
    const size_t slot = static_cast<size_t>(slot_of[static_cast<size_t>(v)]);
    model.inputs.push_back(slot);
    model.tensors[slot].unread = !bytes_read[static_cast<size_t>(v)];
  }
  for (ir::ValueId v : graph.outputs)
    model.outputs.push_back(static_cast<size_t>(slot_of[static_cast<size_t>(v)]));
  // The values passed through take back their places in the graph's interface.
  model.passed_through = passed_through;
  const auto place_passed = [&](const std::vector<std::string>& names, TensorRole role,
                                std::vector<size_t>& list) {
    for (size_t i = 0; i < names.size(); ++i) {
      const bool passed =
          role == TensorRole::kOutput
              ? passed_through.count(names[i]) > 0
              : std::any_of(passed_through.begin(), passed_through.end(),
                            [&](const auto& pair) { return pair.second == names[i]; });
      if (!passed) continue;
      const ir::TensorType& type = passed_types.at(names[i]);
      list.insert(list.begin() + static_cast<std::ptrdiff_t>(i), model.tensors.size());
      model.tensors.push_back({names[i], role, type, 0, 0, nullptr, type.element});
    }
  };
  place_passed(input_names, TensorRole::kInput, model.inputs);
  place_passed(output_names, TensorRole::kOutput, model.outputs);

  // Nodes that only rename a dense tensor (Reshape and friends) produce an alias: the same HBM
  // bytes under another shape, with no code. `root` maps every value to the tensor that owns its
  // bytes; the owner lives until the last reader of any of its aliases.
  std::vector<size_t> root(graph.values.size());
  for (size_t v = 0; v < root.size(); ++v) root[v] = v;
  std::vector<bool> alias_node(graph.nodes.size(), false);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const ir::Node& n = graph.nodes[i];
    if (!is_alias_op(n) || n.inputs.empty() || n.inputs[0] == ir::kNoValue ||
        n.outputs.size() != 1 || pinned[static_cast<size_t>(n.outputs[0])])
      continue;
    alias_node[i] = true;
    root[static_cast<size_t>(n.outputs[0])] = root[static_cast<size_t>(n.inputs[0])];
  }
  // A TransposeView's readers take its input's view, permuted.
  std::vector<const ir::Node*> view_node(graph.values.size(), nullptr);
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    if (alias_node[i] && graph.nodes[i].domain == "seedchip")
      view_node[static_cast<size_t>(graph.nodes[i].outputs[0])] = &graph.nodes[i];
  // In-place outputs (CompileOptions::in_place) are stored over an input's bytes: safe only when
  // the output's producer is the input's last reader (through any alias) and reads it, if at all,
  // as the data of a ScatterND, whose lowering then writes only the scattered rows.
  std::map<size_t, size_t> stored_over;  // output tensor slot -> input tensor slot
  std::set<ir::ValueId> taken_inputs;
  for (const auto& [out_name, in_name] : options.in_place) {
    const std::string what =
        where + "in-place output '" + out_name + "' over input '" + in_name + "': ";
    auto find = [&graph](const std::vector<ir::ValueId>& list, const std::string& name) {
      for (ir::ValueId v : list)
        if (graph.value(v).name == name) return v;
      return ir::kNoValue;
    };
    const ir::ValueId o = find(graph.outputs, out_name), in = find(graph.inputs, in_name);
    if (o == ir::kNoValue) throw InputError(what + "'" + out_name + "' is not a graph output");
    if (in == ir::kNoValue) throw InputError(what + "'" + in_name + "' is not a graph input");
    if (o == in || std::count(graph.outputs.begin(), graph.outputs.end(), in) > 0)
      throw InputError(what + "'" + in_name + "' is also a graph output");
    if (!taken_inputs.insert(in).second)
      throw InputError(what + "another output is already stored over '" + in_name + "'");
    const size_t os = static_cast<size_t>(slot_of[static_cast<size_t>(o)]);
    const size_t is = static_cast<size_t>(slot_of[static_cast<size_t>(in)]);
    const TensorSlot &ot = model.tensors[os], &it = model.tensors[is];
    if (ot.type != it.type || ot.host_element != it.host_element)
      throw InputError(what + "the output is " + ir::type_text({ot.host_element, ot.type.dims}) +
                       ", the input " + ir::type_text({it.host_element, it.type.dims}) +
                       "; they must have the same type");
    int producer = -1;
    for (size_t i = 0; i < graph.nodes.size(); ++i)
      if (std::count(graph.nodes[i].outputs.begin(), graph.nodes[i].outputs.end(), o) > 0)
        producer = static_cast<int>(i);
    if (producer < 0) throw InputError(what + "no node produces '" + out_name + "'");
    const ir::Node& writer = graph.nodes[static_cast<size_t>(producer)];
    const std::string writer_label = writer.label(static_cast<size_t>(producer));
    for (size_t j = 0; j < graph.nodes.size(); ++j) {
      const ir::Node& n = graph.nodes[j];
      if (alias_node[j]) continue;  // no code: its readers are the readers of `in`
      for (size_t k = 0; k < n.inputs.size(); ++k) {
        const ir::ValueId v = n.inputs[k];
        if (v == ir::kNoValue || root[static_cast<size_t>(v)] != static_cast<size_t>(in)) continue;
        if (static_cast<int>(j) > producer)
          throw InputError(what + n.label(j) + " reads '" + in_name + "' after " + writer_label +
                           " has written '" + out_name + "' over it");
        if (static_cast<int>(j) == producer && !(k == 0 && is_onnx_op(n, "ScatterND")))
          throw InputError(what + writer_label + " reads '" + in_name + "' (operand " +
                           std::to_string(k) + ") while writing '" + out_name +
                           "' over it; only ScatterND's data operand may be the input");
      }
    }
    stored_over[os] = is;
    model.in_place[out_name] = in_name;
  }

  // Intermediates: allocated when produced, released after their last reader, so a later tensor
  // reuses the space of earlier ones.
  std::vector<int> last_use(graph.values.size(), -1);
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    for (ir::ValueId v : graph.nodes[i].inputs)
      if (v != ir::kNoValue) last_use[root[static_cast<size_t>(v)]] = static_cast<int>(i);
  std::vector<std::vector<size_t>> release_after(graph.nodes.size());
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    for (ir::ValueId v : graph.nodes[i].outputs) {
      if (v == ir::kNoValue || pinned[static_cast<size_t>(v)]) continue;
      const size_t u = static_cast<size_t>(v);
      add_slot(u, TensorRole::kIntermediate, 0);
      if (root[u] == u)
        release_after[static_cast<size_t>(std::max(last_use[u], static_cast<int>(i)))].push_back(u);
    }
  RangeAllocator hbm(0);
  for (size_t k = 0; k < model.tensors.size(); ++k)
    if (model.tensors[k].role != TensorRole::kIntermediate && !stored_over.count(k) &&
        model.tensors[k].type.containers.empty())
      model.tensors[k].hbm = hbm.allocate(model.tensors[k].bytes);
  for (const auto& [out_slot, in_slot] : stored_over)
    model.tensors[out_slot].hbm = model.tensors[in_slot].hbm;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (ir::ValueId v : graph.nodes[i].outputs) {
      if (v == ir::kNoValue || pinned[static_cast<size_t>(v)]) continue;
      TensorSlot& t = model.tensors[static_cast<size_t>(slot_of[static_cast<size_t>(v)])];
      const size_t owner = root[static_cast<size_t>(v)];
      t.hbm = owner == static_cast<size_t>(v)
                  ? hbm.allocate(t.bytes)
                  : model.tensors[static_cast<size_t>(slot_of[owner])].hbm;
    }
    for (size_t u : release_after[i]) {
      const TensorSlot& t = model.tensors[static_cast<size_t>(slot_of[u])];
      hbm.release(t.hbm, t.bytes);
    }
  }

  const uint64_t capacity = static_cast<uint64_t>(chip.hbm.stacks * chip.hbm.stack_gbytes) << 30;
  auto check_capacity = [&](uint64_t needed, uint64_t scratch) {
    if (needed <= capacity) return;
    throw InputError(where + "needs " + std::to_string(needed) + " bytes of HBM (tensors " +
                     std::to_string(hbm.end()) + ", scratch " + std::to_string(scratch) +
                     ") but chip '" + chip.name + "' has " + std::to_string(capacity));
  };
  check_capacity(hbm.end(), 0);  // before generating code for a model that cannot fit anyway
  uint64_t constants_end = align_up(hbm.end(), kTensorAlign);
  uint64_t max_scratch = 0;
  ProgramBuilder program(static_cast<int>(chip.core_count()));
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    uint64_t scratch_used = 0;
    std::function<TensorView(ir::ValueId)> view_of = [&](ir::ValueId v) -> TensorView {
      if (const ir::Node* view = view_node[static_cast<size_t>(v)])
        return view_of(view->inputs[0]).permuted(*view->attribute<std::vector<int64_t>>("perm"));
      const int64_t s = slot_of.at(static_cast<size_t>(v));
      if (s < 0) throw std::logic_error("tensor without an HBM slot");
      const ir::TensorType& t = graph.value(v).type;
      return TensorView::contiguous(static_cast<int64_t>(model.tensors[static_cast<size_t>(s)].hbm),
                                    static_cast<int64_t>(ir::element_bytes(t.element)), *t.dims);
    };
    OpContext::Hooks hooks{
        view_of,
        [&](int64_t bytes) -> int64_t {
          scratch_used += align_up(static_cast<uint64_t>(bytes), kTensorAlign);
          max_scratch = std::max(max_scratch, scratch_used);
          if (scratch_used > capacity) throw InputError(where + "scratch beyond HBM capacity");
          return static_cast<int64_t>(capacity - scratch_used);
        },
        [&](ir::HostTensor t) -> int64_t {
          const uint64_t at = constants_end;
          const uint64_t bytes = t.bytes.size();
          constants_end = align_up(at + bytes, kTensorAlign);
          const std::string name =
              "constant " + std::to_string(model.tensors.size()) + " of " + graph.nodes[i].label(i);
          const ir::TensorType type = t.type();
          model.tensors.push_back({name, TensorRole::kConstant, type, at, bytes,
                                   std::make_shared<const ir::HostTensor>(std::move(t)),
                                   type.element});
          return static_cast<int64_t>(at);
        }};
    if (alias_node[i]) {
      model.ops.push_back({graph.nodes[i].label(i), graph.nodes[i].op, "alias (no code)", 0, {}});
      continue;
    }
    const InstructionCounts before = program.counts();
    OpContext ctx(chip, graph, i, program, options, std::move(hooks));
    find_lowering(graph.nodes[i])->lower(ctx);
    ctx.sync();
    model.ops.push_back({graph.nodes[i].label(i), graph.nodes[i].op, ctx.mapping, ctx.barriers(),
                         program.counts() - before});
  }
  model.hbm_bytes = constants_end + max_scratch;
  check_capacity(model.hbm_bytes, max_scratch);
  model.program = program.finish();
  return model;
}

}  // namespace seedchip::compiler
