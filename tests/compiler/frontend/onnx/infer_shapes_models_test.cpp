// Shape inference against the ONNX backend node tests, whose models declare every output's type:
// the declared types are the ground truth for what infer_shapes derives from the inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>

#include "arch/error.h"
#include "compiler/frontend/onnx/onnx_loader.h"
#include "compiler/passes/infer_shapes.h"

namespace seedchip::compiler {
namespace {

namespace fs = std::filesystem;

const fs::path kNodeTests = "/usr/share/libonnx-testdata/data/node";

std::string text(const ir::TensorType& t) {
  std::string s(ir::element_name(t.element));
  if (!t.dims) return s + "[*]";
  s += "[";
  for (size_t i = 0; i < t.dims->size(); ++i)
    s += (i ? "," : "") +
         ((*t.dims)[i] == ir::kUnknownDim ? std::string("?") : std::to_string((*t.dims)[i]));
  return s + "]";
}

struct Tally {
  int checked = 0, agreed = 0;
  std::vector<std::string> disagreements;
  double share() const { return checked ? static_cast<double>(agreed) / checked : 1.0; }
};

// Loads a node test whose graph inputs are all of known type, with the types of everything nodes
// compute forgotten. With `feed`, the inputs of test_data_set_0 become constants, as a model's
// initializers would be, so that shapes computed from values (Reshape, Slice, Tile) are known.
std::optional<ir::Graph> load(const fs::path& dir, bool feed) {
  ir::Graph g;
  try {
    g = frontend::load_onnx_model((dir / "model.onnx").string());
  } catch (const InputError&) {
    return std::nullopt;  // what the loader refuses is its own tests' business
  }
  for (ir::ValueId id : g.inputs)
    if (!g.value(id).type.fully_known()) return std::nullopt;
  for (const ir::Node& node : g.nodes)
    for (ir::ValueId out : node.outputs)
      if (out != ir::kNoValue) g.value(out).type = {};
  if (!feed) return g;
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    const fs::path pb = dir / "test_data_set_0" / ("input_" + std::to_string(k) + ".pb");
    if (!fs::exists(pb)) return std::nullopt;
    auto t = std::make_shared<ir::HostTensor>(frontend::load_onnx_tensor(pb.string()));
    ir::Value& v = g.value(g.inputs[k]);
    if (t->type() != v.type) return std::nullopt;
    v.constant = t;
  }
  g.inputs.clear();
  return g;
}

// Compares each fully declared graph output computed by an op infer_shapes knows. `strict`: an
// output left partly unknown is a disagreement; otherwise only fully inferred outputs count.
void check(const fs::path& dir, bool feed, bool strict, Tally& tally) {
  const fs::path model = dir / "model.onnx";
  ir::Graph declared;
  try {
    declared = frontend::load_onnx_model(model.string());
  } catch (const InputError&) {
    return;
  }
  std::optional<ir::Graph> g = load(dir, feed);
  if (!g) return;
  const std::set<std::string> known(passes::shape_inference_ops().begin(),
                                    passes::shape_inference_ops().end());
  const std::vector<int> producer = g->producers();
  std::vector<ir::ValueId> outputs;
  for (ir::ValueId out : g->outputs) {
    const int p = producer[static_cast<size_t>(out)];
    const ir::Node* node = p >= 0 ? &g->nodes[static_cast<size_t>(p)] : nullptr;
    if (node && node->domain.empty() && known.count(node->op) &&
        declared.value(out).type.fully_known())
      outputs.push_back(out);
  }
  if (outputs.empty()) return;
  const std::string test = dir.filename().string();
  try {
    passes::infer_shapes(*g);
  } catch (const InputError& e) {
    tally.checked += static_cast<int>(outputs.size());
    tally.disagreements.push_back(test + ": " + e.what());
    return;
  }
  for (ir::ValueId out : outputs) {
    const ir::TensorType& want = declared.value(out).type;
    const ir::TensorType& got = g->value(out).type;
    if (!strict && !got.fully_known()) continue;
    ++tally.checked;
    if (got == want) {
      ++tally.agreed;
    } else {
      tally.disagreements.push_back(test + ": output '" + g->value(out).name + "' is declared " +
                                    text(want) + ", inferred " + text(got));
    }
  }
}

TEST(InferShapesModels, AgreesWithTheOnnxNodeTests) {
  if (!fs::is_directory(kNodeTests)) GTEST_SKIP() << kNodeTests << " is not installed";
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator(kNodeTests))
    if (fs::exists(entry.path() / "model.onnx")) dirs.push_back(entry.path());
  std::sort(dirs.begin(), dirs.end());
  // With the input data as constants every output should be inferred in full; from the input
  // types alone, shapes that depend on input values stay partly unknown and are not counted.
  Tally fed, typed;
  for (const fs::path& dir : dirs) {
    check(dir, true, true, fed);
    check(dir, false, false, typed);
  }
  for (const auto& [what, tally] :
       {std::pair{"inputs as constants", &fed}, std::pair{"input types only", &typed}}) {
    std::cout << "infer_shapes vs ONNX node tests (" << what << "): " << tally->agreed << " of "
              << tally->checked << " outputs agree (" << 100.0 * tally->share() << "%)\n";
    for (const std::string& d : tally->disagreements) std::cout << "  " << d << "\n";
  }
  EXPECT_GE(fed.share(), 0.85);
  EXPECT_GE(typed.share(), 0.85);
}

}  // namespace
}  // namespace seedchip::compiler
