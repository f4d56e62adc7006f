#include "compiler/frontend/onnx/onnx_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/onnx-data_pb.h>
#include <onnx/onnx_pb.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "arch/error.h"
#include "tests/input_error.h"

namespace seedchip::compiler::frontend {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const std::string kNodeTests = "/usr/share/libonnx-testdata/data/node/";

using seedchip::testing::error_of;

// y = Relu(MatMul(x, w)) with w an initializer, in a ModelProto the tests then break.
onnx::ModelProto small_model() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("small");
  auto* x = g->add_input();
  x->set_name("x");
  auto* xt = x->mutable_type()->mutable_tensor_type();
  xt->set_elem_type(onnx::TensorProto::FLOAT);
  xt->mutable_shape()->add_dim()->set_dim_param("batch");
  xt->mutable_shape()->add_dim()->set_dim_value(2);
  onnx::TensorProto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(2);
  w->add_dims(3);
  for (int i = 0; i < 6; ++i) w->add_float_data(float(i));
  onnx::NodeProto* mm = g->add_node();
  mm->set_name("mm");
  mm->set_op_type("MatMul");
  mm->add_input("x");
  mm->add_input("w");
  mm->add_output("h");
  onnx::NodeProto* relu = g->add_node();
  relu->set_name("relu");
  relu->set_op_type("Relu");
  relu->add_input("h");
  relu->add_output("y");
  auto* a = relu->add_attribute();
  a->set_name("note");
  a->set_type(onnx::AttributeProto::INTS);
  a->add_ints(3);
  a->add_ints(4);
  g->add_output()->set_name("y");
  return m;
}

ir::Graph load(const onnx::ModelProto& m, const std::string& dir = "") {
  const std::string bytes = m.SerializeAsString();
  return load_onnx_model_bytes(bytes.data(), bytes.size(), "m.onnx", dir);
}

TEST(OnnxLoader, BuildsTheGraph) {
  const ir::Graph g = load(small_model());
  EXPECT_EQ(g.name, "small");
  EXPECT_EQ(g.opset_version(), 13);
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].op, "MatMul");
  const ir::Value& x = g.value(g.inputs.at(0));
  EXPECT_EQ(x.type.element, ir::ElementType::F32);
  EXPECT_EQ(*x.type.dims, (std::vector<int64_t>{ir::kUnknownDim, 2}));
  const ir::Value& w = g.value(g.find("w"));
  ASSERT_TRUE(w.constant);
  EXPECT_EQ(w.constant->dims, (std::vector<int64_t>{2, 3}));
  float last = 0;
  std::memcpy(&last, w.constant->bytes.data() + 20, 4);
  EXPECT_EQ(last, 5.0f);
  EXPECT_EQ(*g.nodes[1].attribute<std::vector<int64_t>>("note"), (std::vector<int64_t>{3, 4}));
}

TEST(OnnxLoader, SortsNodesListedOutOfOrder) {
  onnx::ModelProto m = small_model();
  m.mutable_graph()->mutable_node()->SwapElements(0, 1);
  const ir::Graph g = load(m);
  EXPECT_EQ(g.nodes[0].op, "MatMul");
}

TEST(OnnxLoader, ReportsACycle) {
  onnx::ModelProto m = small_model();
  m.mutable_graph()->mutable_node(0)->set_input(0, "y");  // MatMul reads Relu's output
  EXPECT_THAT(error_of([&] { load(m); }),
              HasSubstr("m.onnx: graph 'small': the graph has a cycle"));
}

TEST(OnnxLoader, NamesAMissingInput) {
  onnx::ModelProto m = small_model();
  m.mutable_graph()->mutable_node(1)->set_input(0, "nowhere");
  EXPECT_THAT(error_of([&] { load(m); }),
              HasSubstr("m.onnx: node 'relu' (Relu) input 'nowhere' is not a graph input"));
}

TEST(OnnxLoader, NamesAnInitializerWithTheWrongElementCount) {
  onnx::ModelProto m = small_model();
  m.mutable_graph()->mutable_initializer(0)->add_float_data(7);
  EXPECT_THAT(error_of([&] { load(m); }),
              HasSubstr("initializer 'w': dims [2,3] need 6 f32 elements, the file holds 7"));
  onnx::ModelProto r = small_model();
  onnx::TensorProto* w = r.mutable_graph()->mutable_initializer(0);
  w->clear_float_data();
  w->set_raw_data(std::string(20, '\0'));
  EXPECT_THAT(error_of([&] { load(r); }), HasSubstr("raw_data holds 20 bytes"));
}

TEST(OnnxLoader, RejectsTruncatedAndGarbledFiles) {
  const std::string bytes = small_model().SerializeAsString();
  for (size_t cut : {size_t{1}, bytes.size() / 2, bytes.size() - 1}) {
    const std::string e =
        error_of([&] { load_onnx_model_bytes(bytes.data(), cut, "cut.onnx", ""); });
    EXPECT_THAT(e, HasSubstr("cut.onnx: ")) << cut;
  }
  const std::string garbage = "this is not a protobuf \xff\xff\xff\xff";
  EXPECT_THAT(error_of([&] { load_onnx_model_bytes(garbage.data(), garbage.size(), "g.onnx"); }),
              HasSubstr("g.onnx: "));
}

TEST(OnnxLoader, RequiresTheDefaultOpset) {
  onnx::ModelProto m = small_model();
  m.mutable_opset_import(0)->set_domain("com.example");
  EXPECT_THAT(error_of([&] { load(m); }), HasSubstr("no entry for the default ONNX domain"));
}

TEST(OnnxLoader, ReadsExternalDataInsideTheModelFolderOnly) {
  const fs::path dir = fs::temp_directory_path() / "seedchip_onnx_external";
  fs::create_directories(dir);
  {
    std::ofstream out(dir / "w.bin", std::ios::binary);
    const float w[6] = {0, 1, 2, 3, 4, 5};
    out.write(reinterpret_cast<const char*>(w), sizeof(w));
  }
  onnx::ModelProto m = small_model();
  onnx::TensorProto* w = m.mutable_graph()->mutable_initializer(0);
  w->clear_float_data();
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* loc = w->add_external_data();
  loc->set_key("location");
  loc->set_value("w.bin");
  const ir::Graph g = load(m, dir.string());
  EXPECT_EQ(g.value(g.find("w")).constant->bytes.size(), 24u);
  EXPECT_THAT(error_of([&] { load(m); }), HasSubstr("cannot be resolved"));
  loc->set_value("../w.bin");
  EXPECT_THAT(error_of([&] { load(m, dir.string()); }), HasSubstr("climbs out"));
  loc->set_value("w.bin");
  auto* off = w->add_external_data();
  off->set_key("offset");
  off->set_value("8");
  EXPECT_THAT(error_of([&] { load(m, dir.string()); }), HasSubstr("has 24 bytes"));
  fs::remove_all(dir);
}

TEST(OnnxLoader, LoadsABackendTestCaseAndItsTensors) {
  const std::string dir = kNodeTests + "test_matmul_2d/";
  const ir::Graph g = load_onnx_model(dir + "model.onnx");
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op, "MatMul");
  std::string name;
  const ir::HostTensor a = load_onnx_tensor(dir + "test_data_set_0/input_0.pb", &name);
  EXPECT_EQ(name, g.value(g.inputs.at(0)).name);
  EXPECT_EQ(a.type(), g.value(g.inputs.at(0)).type);
}

TEST(OnnxLoader, LoadsSequenceAndOptionalTypesAndValues) {
  const std::string opt = kNodeTests + "test_identity_opt/";
  const ir::Graph g = load_onnx_model(opt + "model.onnx");
  const ir::TensorType& type = g.value(g.inputs.at(0)).type;
  EXPECT_EQ(ir::type_text(type), "optional(seq(f32[5]))");
  std::string name;
  const ir::HostTensor o = load_onnx_value(opt + "test_data_set_0/input_0.pb", type, &name);
  EXPECT_EQ(name, "opt_in");
  EXPECT_EQ(ir::type_mismatch(o, type), "");
  ASSERT_EQ(o.items.size(), 1u);
  ASSERT_EQ(o.items[0].items.size(), 1u);
  EXPECT_EQ(ir::host_values<float>(o.items[0].items[0]), (std::vector<float>{1, 2, 3, 4, 5}));

  const std::string seq = kNodeTests + "test_identity_sequence/";
  const ir::Graph sg = load_onnx_model(seq + "model.onnx");
  const ir::TensorType& stype = sg.value(sg.inputs.at(0)).type;
  EXPECT_EQ(stype.containers, std::vector<ir::Container>{ir::Container::Sequence});
  const ir::HostTensor s = load_onnx_value(seq + "test_data_set_0/input_0.pb", stype);
  EXPECT_EQ(s.container, ir::Container::Sequence);
  ASSERT_EQ(s.items.size(), 2u);
  EXPECT_EQ(s.items[1].dims, (std::vector<int64_t>{1, 1, 2, 2}));
  EXPECT_EQ(ir::host_values<float>(s.items[1]), (std::vector<float>{2, 3, 1, 5}));
}

TEST(OnnxLoader, MalformedSequencesAndOptionalsAreClearErrors) {
  ir::TensorType seq_type{ir::ElementType::F32, std::nullopt, {ir::Container::Sequence}};
  ir::TensorType opt_type{ir::ElementType::F32, std::nullopt, {ir::Container::Optional}};
  const auto load = [](const google::protobuf::MessageLite& m, const ir::TensorType& type) {
    const std::string bytes = m.SerializeAsString();
    return load_onnx_value_bytes(bytes.data(), bytes.size(), "v.pb", type);
  };
  const std::string garbage = "\xff\xff\xff";
  EXPECT_THAT(
      error_of([&] { load_onnx_value_bytes(garbage.data(), garbage.size(), "v.pb", seq_type); }),
      HasSubstr("v.pb: not a valid ONNX SequenceProto"));
  EXPECT_THAT(
      error_of([&] { load_onnx_value_bytes(garbage.data(), garbage.size(), "v.pb", opt_type); }),
      HasSubstr("v.pb: not a valid ONNX OptionalProto"));

  onnx::SequenceProto s;
  s.set_name("x");
  s.set_elem_type(onnx::SequenceProto::TENSOR);
  s.add_sequence_values()->set_elem_type(onnx::SequenceProto::TENSOR);
  EXPECT_THAT(error_of([&] { load(s, seq_type); }),
              HasSubstr("v.pb: sequence 'x': holds a sequence value but its elem_type is tensor"));
  s.clear_sequence_values();
  s.set_elem_type(onnx::SequenceProto::MAP);
  EXPECT_THAT(error_of([&] { load(s, seq_type); }), HasSubstr("map values are not supported"));
  s.set_elem_type(9);
  EXPECT_THAT(error_of([&] { load(s, seq_type); }), HasSubstr("elem_type 9 is not one ONNX"));
  s.set_elem_type(onnx::SequenceProto::TENSOR);
  onnx::TensorProto* t = s.add_tensor_values();
  t->set_data_type(onnx::TensorProto::FLOAT);
  t->add_dims(2);
  t->add_float_data(1);
  EXPECT_THAT(error_of([&] { load(s, seq_type); }),
              HasSubstr("sequence 'x' item 0 tensor '': dims [2] need 2 f32 elements"));

  onnx::OptionalProto o;
  o.set_name("y");
  o.set_elem_type(onnx::OptionalProto::TENSOR);
  EXPECT_TRUE(load(o, opt_type).items.empty());  // an optional without a value
  o.mutable_sequence_value()->set_elem_type(onnx::SequenceProto::TENSOR);
  EXPECT_THAT(error_of([&] { load(o, opt_type); }),
              HasSubstr("optional 'y': holds a sequence value but its elem_type is tensor"));
}

TEST(OnnxLoader, MalformedStringTensorsAreClearErrors) {
  onnx::TensorProto t;
  t.set_name("s");
  t.set_data_type(onnx::TensorProto::STRING);
  t.add_dims(2);
  t.add_string_data("1.5");
  std::string bytes = t.SerializeAsString();
  EXPECT_THAT(error_of([&] { load_onnx_tensor_bytes(bytes.data(), bytes.size(), "s.pb"); }),
              HasSubstr("s.pb: tensor 's': dims [2] need 2 string elements, the file holds 1"));
  t.add_string_data("INF");
  t.set_raw_data("ab");
  bytes = t.SerializeAsString();
  EXPECT_THAT(error_of([&] { load_onnx_tensor_bytes(bytes.data(), bytes.size(), "s.pb"); }),
              HasSubstr("s.pb: tensor 's': string tensors cannot use raw_data"));
  t.clear_raw_data();
  bytes = t.SerializeAsString();
  EXPECT_EQ(load_onnx_tensor_bytes(bytes.data(), bytes.size(), "s.pb").strings,
            (std::vector<std::string>{"1.5", "INF"}));
}

TEST(OnnxLoader, TensorFilesRoundTrip) {
  ir::HostTensor t;
  t.element = ir::ElementType::I64;
  t.dims = {2};
  t.bytes.resize(16);
  t.bytes[0] = 7;
  t.bytes[8] = 0xff;
  const std::string path = (fs::temp_directory_path() / "seedchip_tensor.pb").string();
  save_onnx_tensor(t, "t", path);
  std::string name;
  const ir::HostTensor back = load_onnx_tensor(path, &name);
  EXPECT_EQ(name, "t");
  EXPECT_EQ(back.bytes, t.bytes);
  EXPECT_EQ(back.dims, t.dims);
  fs::remove(path);
  EXPECT_THAT(error_of([&] { load_onnx_tensor("/nonexistent.pb"); }),
              HasSubstr("/nonexistent.pb: cannot open"));
}

// Every model of the ONNX backend node tests loads, except those with attribute kinds the IR does
// not hold, which fail with a message naming the file and the attribute.
TEST(OnnxLoader, LoadsEveryNodeTestModel) {
  int loaded = 0;
  for (const auto& entry : fs::directory_iterator(kNodeTests)) {
    const std::string path = (entry.path() / "model.onnx").string();
    try {
      load_onnx_model(path);
      ++loaded;
    } catch (const InputError& e) {
      EXPECT_THAT(e.what(), HasSubstr(path + ": "));
      EXPECT_THAT(e.what(), HasSubstr("is not supported (sparse tensors, type protos)"));
    }
  }
  EXPECT_GE(loaded, 930);
}

}  // namespace
}  // namespace seedchip::compiler::frontend
