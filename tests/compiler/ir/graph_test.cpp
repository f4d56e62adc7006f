#include "compiler/ir/graph.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "arch/error.h"
#include "tests/input_error.h"

namespace seedchip::compiler::ir {
namespace {

using ::testing::HasSubstr;

using seedchip::testing::error_of;

// x -> Relu -> y -> Neg -> z, built in the given node order.
Graph chain(bool reversed) {
  Graph g;
  g.name = "chain";
  const TensorType t{ElementType::F32, std::vector<int64_t>{2}};
  const ValueId x = g.add_value("x", t), y = g.add_value("y", t), z = g.add_value("z", t);
  Node relu{"Relu", "", "r", {x}, {y}, {}};
  Node neg{"Neg", "", "n", {y}, {z}, {}};
  if (reversed)
    g.nodes = {neg, relu};
  else
    g.nodes = {relu, neg};
  g.inputs = {x};
  g.outputs = {z};
  return g;
}

TEST(Graph, ElementNamesRoundTrip) {
  for (ElementType t : {ElementType::F32, ElementType::BF16, ElementType::I64, ElementType::Bool,
                        ElementType::String, ElementType::C128}) {
    EXPECT_EQ(element_from_name(element_name(t)), t);
  }
  EXPECT_EQ(element_bytes(ElementType::I64), 8u);
  EXPECT_EQ(element_bytes(ElementType::String), 0u);
  EXPECT_FALSE(element_from_name("float").has_value());
}

TEST(Graph, TypesKnowWhatTheyKnow) {
  EXPECT_EQ((TensorType{ElementType::F32, std::vector<int64_t>{2, 3}}).element_count(), 6);
  EXPECT_EQ((TensorType{ElementType::F32, std::vector<int64_t>{}}).element_count(), 1);
  EXPECT_EQ((TensorType{ElementType::F32, std::vector<int64_t>{2, kUnknownDim}}).element_count(),
            -1);
  EXPECT_FALSE((TensorType{ElementType::F32, std::nullopt}).fully_known());
}

TEST(Graph, NamesAreUniqueAndFound) {
  Graph g;
  const ValueId a = g.add_value("a", {});
  EXPECT_THROW(g.add_value("a", {}), std::invalid_argument);
  EXPECT_EQ(g.find("a"), a);
  EXPECT_EQ(g.find("b"), kNoValue);
  EXPECT_EQ(g.unique_name("a"), "a_1");
  EXPECT_EQ(g.unique_name("b"), "b");
}

TEST(Graph, VerifyAcceptsAValidChain) { EXPECT_NO_THROW(verify(chain(false))); }

TEST(Graph, VerifyNamesTheNodeThatReadsTooEarly) {
  const std::string e = error_of([] { verify(chain(true)); });
  EXPECT_THAT(e, HasSubstr("node 'n' (Neg) reads 'y'"));
}

TEST(Graph, SortRepairsOrderAndKeepsAValidOne) {
  Graph g = chain(true);
  sort_topologically(g);
  EXPECT_EQ(g.nodes[0].op, "Relu");
  EXPECT_NO_THROW(verify(g));
  Graph h = chain(false);
  sort_topologically(h);
  EXPECT_EQ(h.nodes[0].op, "Relu");
}

TEST(Graph, SortReportsACycle) {
  Graph g = chain(false);
  g.nodes[0].inputs = {g.find("z")};  // Relu now reads Neg's output
  EXPECT_THAT(error_of([&] { sort_topologically(g); }), HasSubstr("cycle"));
}

TEST(Graph, SortReportsAnUndefinedInput) {
  Graph g = chain(false);
  g.inputs.clear();
  EXPECT_THAT(error_of([&] { sort_topologically(g); }),
              HasSubstr("node 'r' (Relu) reads 'x', which is not a graph input"));
}

TEST(Graph, VerifyRejectsTwoWritersAndMissingOutputs) {
  Graph g = chain(false);
  g.nodes[1].outputs = {g.find("y")};
  EXPECT_THAT(error_of([&] { verify(g); }), HasSubstr("already defined"));
  Graph h = chain(false);
  h.nodes.pop_back();
  EXPECT_THAT(error_of([&] { verify(h); }), HasSubstr("graph output 'z' is never computed"));
}

TEST(Graph, VerifyChecksConstantSizes) {
  Graph g;
  auto c = std::make_shared<HostTensor>();
  c->element = ElementType::F32;
  c->dims = {3};
  c->bytes.resize(8);
  g.add_value("c", c->type(), c);
  EXPECT_THAT(error_of([&] { verify(g); }), HasSubstr("data size"));
}

}  // namespace
}  // namespace seedchip::compiler::ir
