// ScatterND (lower_scatter_nd: copy, then dma.scatter of the update rows) with run-time indices
// against a host computation, its reductions, the error a bad index raises, and an in-place state
// (CompileOptions::in_place) updated run after run on a functional-only LoadedModel without the
// host giving the state again.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "arch/chip_loader.h"
#include "compiler/ir/text.h"
#include "runtime/model_file.h"
#include "runtime/runtime.h"
#include "tests/input_error.h"

namespace seedchip::runtime {
namespace {

namespace ir = compiler::ir;
using ::testing::AllOf;
using ::testing::HasSubstr;

const LoadedChip& chip() {
  static const LoadedChip c = load_chip("seedchip-v1");
  return c;
}

std::vector<float> run(const std::string& graph, const std::map<std::string, ir::HostTensor>& in) {
  const compiler::CompiledModel model = compiler::compile_graph(ir::parse(graph), chip());
  return ir::host_values<float>(run_model(model, chip(), in).outputs.at(0));
}

// data [6, 4, 5], indices [3, 2, 2] of depth 2 (rows of 5), some negative.
const char* kScatter3d = R"(graph "snd" opset ""=18 {
  input %x: f32[6,4,5]
  input %i: i64[3,2,2]
  input %u: f32[3,2,5]
  %y: f32[6,4,5] = ScatterND(%x, %i, %u)
  output %y
})";

TEST(ScatterNd, RunTimeIndicesMatchTheHost) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> value(-10, 10);
  std::vector<float> x(6 * 4 * 5), u(3 * 2 * 5);
  for (float& v : x) v = value(rng);
  for (float& v : u) v = value(rng);
  // Distinct (row, column) pairs; -1 and -4 count from the end.
  const std::vector<int64_t> i = {0, 0, 5, 3, -1, 1, 2, -4, 3, 3, 1, 2};
  std::vector<float> expected = x;
  for (int t = 0; t < 6; ++t) {
    int64_t a = i[static_cast<size_t>(2 * t)], b = i[static_cast<size_t>(2 * t + 1)];
    if (a < 0) a += 6;
    if (b < 0) b += 4;
    for (int c = 0; c < 5; ++c)
      expected[static_cast<size_t>((a * 4 + b) * 5 + c)] = u[static_cast<size_t>(t * 5 + c)];
  }
  EXPECT_EQ(run(kScatter3d, {{"x", ir::host_tensor(ir::ElementType::F32, {6, 4, 5}, x)},
                             {"i", ir::host_tensor(ir::ElementType::I64, {3, 2, 2}, i)},
                             {"u", ir::host_tensor(ir::ElementType::F32, {3, 2, 5}, u)}}),
            expected);
}

TEST(ScatterNd, IndexOutOfRangeStopsTheRun) {
  const std::vector<float> x(6 * 4 * 5, 1.0f), u(3 * 2 * 5, 2.0f);
  const std::vector<int64_t> i = {0, 0, 6, 0, 0, 0, 0, 1, 0, 2, 0, 3};
  EXPECT_THAT(seedchip::testing::error_of([&] {
                run(kScatter3d, {{"x", ir::host_tensor(ir::ElementType::F32, {6, 4, 5}, x)},
                                 {"i", ir::host_tensor(ir::ElementType::I64, {3, 2, 2}, i)},
                                 {"u", ir::host_tensor(ir::ElementType::F32, {3, 2, 5}, u)}});
              }),
              AllOf(HasSubstr("node #0 (ScatterND)"), HasSubstr("dma.scatter"),
                    HasSubstr("is outside [0, 24)")));
}

TEST(ScatterNd, AddCombinesRepeatedIndicesInOrder) {
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};
  const std::vector<int64_t> i = {1, 1, 0};
  const std::vector<float> u = {10, 20, 100, 200, 1000, 2000};
  EXPECT_EQ(run(R"(graph "add" opset ""=18 {
  input %x: f32[3,2]
  input %i: i64[3,1]
  input %u: f32[3,2]
  %y: f32[3,2] = ScatterND(%x, %i, %u) {reduction = "add"}
  output %y
})",
                {{"x", ir::host_tensor(ir::ElementType::F32, {3, 2}, x)},
                 {"i", ir::host_tensor(ir::ElementType::I64, {3, 1}, i)},
                 {"u", ir::host_tensor(ir::ElementType::F32, {3, 2}, u)}}),
            (std::vector<float>{1001, 2002, 113, 224, 5, 6}));
}

// A KV-cache-like pool updated in place: ScatterND writes one row of %pool per run, stored over
// %pool itself, and a Gather reads rows of the updated pool.
const char* kPool = R"(graph "pool" opset ""=18 {
  input %pool: f32[16,8]
  input %slot: i64[1,1]
  input %row: f32[1,8]
  input %read: i64[2]
  %pool_next: f32[16,8] = ScatterND(%pool, %slot, %row)
  %picked: f32[2,8] = Gather(%pool_next, %read) {axis = 0}
  output %pool_next
  output %picked
})";

compiler::CompiledModel compile_pool(const std::string& graph = kPool) {
  compiler::CompileOptions options;
  options.in_place = {{"pool_next", "pool"}};
  return compiler::compile_graph(ir::parse(graph), chip(), options);
}

std::vector<float> row_of(float base) {
  std::vector<float> r(8);
  for (int c = 0; c < 8; ++c) r[static_cast<size_t>(c)] = base + static_cast<float>(c);
  return r;
}

TEST(InPlace, ScatterNdUpdatesThePoolAcrossRuns) {
  const compiler::CompiledModel model = compile_pool();
  ASSERT_EQ(model.in_place.at("pool_next"), "pool");
  EXPECT_THAT(model.ops.at(0).mapping, HasSubstr("in place"));
  RunOptions untimed;
  untimed.timing = false;
  LoadedModel resident(model, chip(), untimed);
  std::vector<float> pool(16 * 8);
  for (size_t k = 0; k < pool.size(); ++k) pool[k] = static_cast<float>(k);
  const auto read = ir::host_tensor<int64_t>(ir::ElementType::I64, {2}, {3, 5});
  const RunResult first =
      resident.run({{"pool", ir::host_tensor(ir::ElementType::F32, {16, 8}, pool)},
                    {"slot", ir::host_tensor<int64_t>(ir::ElementType::I64, {1, 1}, {3})},
                    {"row", ir::host_tensor(ir::ElementType::F32, {1, 8}, row_of(1000))},
                    {"read", read}});
  std::vector<float> expected = pool;
  std::copy_n(row_of(1000).begin(), 8, expected.begin() + 3 * 8);
  EXPECT_EQ(ir::host_values<float>(first.outputs.at(0)), expected);
  // The second run leaves %pool out: it holds the first run's update.
  const RunResult second =
      resident.run({{"slot", ir::host_tensor<int64_t>(ir::ElementType::I64, {1, 1}, {5})},
                    {"row", ir::host_tensor(ir::ElementType::F32, {1, 8}, row_of(2000))},
                    {"read", read}});
  std::copy_n(row_of(2000).begin(), 8, expected.begin() + 5 * 8);
  EXPECT_EQ(ir::host_values<float>(second.outputs.at(0)), expected);
  std::vector<float> picked = row_of(1000);
  const std::vector<float> second_row = row_of(2000);
  picked.insert(picked.end(), second_row.begin(), second_row.end());
  EXPECT_EQ(ir::host_values<float>(second.outputs.at(1)), picked);
}

TEST(InPlace, TheFirstRunStillNeedsEveryInput) {
  const compiler::CompiledModel model = compile_pool();
  RunOptions untimed;
  untimed.timing = false;
  LoadedModel resident(model, chip(), untimed);
  EXPECT_THAT(
      seedchip::testing::error_of([&] {
        resident.run({{"slot", ir::host_tensor<int64_t>(ir::ElementType::I64, {1, 1}, {5})},
                      {"row", ir::host_tensor(ir::ElementType::F32, {1, 8}, row_of(0))},
                      {"read", ir::host_tensor<int64_t>(ir::ElementType::I64, {2}, {0, 1})}});
      }),
      HasSubstr("input 'pool' (f32[16,8]) is not given"));
}

TEST(InPlace, TheModelFileKeepsTheAliasing) {
  const compiler::CompiledModel model = compile_pool();
  const std::vector<uint8_t> bytes = serialize_model(model);
  const compiler::CompiledModel back = deserialize_model(bytes, "pool.scp");
  EXPECT_EQ(back.in_place, model.in_place);
  EXPECT_EQ(serialize_model(back), bytes);
}

}  // namespace
}  // namespace seedchip::runtime
