#include "runtime/model_file.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>

#include "arch/error.h"

namespace seedchip::runtime {

namespace ir = compiler::ir;

namespace {

using compiler::CompiledModel;
using compiler::TensorRole;
using nlohmann::json;

constexpr char kMagic[8] = {'S', 'C', 'M', 'O', 'D', 'E', 'L', '\0'};

const char* role_name(TensorRole r) {
  switch (r) {
    case TensorRole::kInput:
      return "input";
    case TensorRole::kOutput:
      return "output";
    case TensorRole::kConstant:
      return "constant";
    case TensorRole::kIntermediate:
      return "intermediate";
  }
  return "?";
}

void put_u64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void put_block(std::vector<uint8_t>& out, const std::vector<uint8_t>& block) {
  put_u64(out, block.size());
  out.insert(out.end(), block.begin(), block.end());
}

class Reader {
 public:
  Reader(const std::vector<uint8_t>& bytes, const std::string& file) : b_(bytes), file_(file) {}
  [[noreturn]] void fail(const std::string& what) const { throw InputError(file_ + ": " + what); }
  uint64_t u64(const char* what) {
    if (b_.size() - at_ < 8) fail(std::string("truncated before ") + what);
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v |= static_cast<uint64_t>(b_[at_ + static_cast<size_t>(i)]) << (8 * i);
    at_ += 8;
    return v;
  }
  std::vector<uint8_t> block(const char* what) {
    const uint64_t n = u64(what);
    if (n > b_.size() - at_) fail(std::string("truncated in ") + what);
    std::vector<uint8_t> out(b_.begin() + static_cast<std::ptrdiff_t>(at_),
                             b_.begin() + static_cast<std::ptrdiff_t>(at_ + n));
    at_ += n;
    return out;
  }
  void skip(size_t n) { at_ += n; }
  bool done() const { return at_ == b_.size(); }

 private:
  const std::vector<uint8_t>& b_;
  const std::string& file_;
  size_t at_ = 0;
};

}  // namespace

std::vector<uint8_t> serialize_model(const CompiledModel& m) {
  json header;
  header["chip"] = m.chip_name;
  header["chip_config"] = m.chip_config;
  header["graph"] = m.graph_name;
  header["hbm_bytes"] = m.hbm_bytes;
  std::vector<uint8_t> data;
  json tensors = json::array();
  for (const compiler::TensorSlot& t : m.tensors) {
    json j = {{"name", t.name},
              {"role", role_name(t.role)},
              {"element", std::string(ir::element_name(t.type.element))},
              {"dims", t.type.dims ? json(*t.type.dims) : json(nullptr)},
              {"host_element", std::string(ir::element_name(t.host_element))},
              {"hbm", t.hbm},
              {"bytes", t.bytes}};
    if (t.unread) j["unread"] = true;
    if (!t.type.containers.empty()) {
      json containers = json::array();
      for (ir::Container c : t.type.containers) containers.push_back(ir::container_name(c));
      j["containers"] = std::move(containers);
    }
    if (t.data) {
      j["data_offset"] = data.size();
      j["data_bytes"] = t.data->bytes.size();
      data.insert(data.end(), t.data->bytes.begin(), t.data->bytes.end());
    }
    tensors.push_back(std::move(j));
  }
  header["tensors"] = std::move(tensors);
  header["inputs"] = m.inputs;
  header["outputs"] = m.outputs;
  json ops = json::array();
  for (const compiler::OpRecord& op : m.ops)
    ops.push_back({{"label", op.label},
                   {"op", op.op},
                   {"mapping", op.mapping},
                   {"barriers", op.barriers},
                   {"instructions", op.instructions.all},
                   {"unit_instructions", op.instructions.units}});
  header["ops"] = std::move(ops);
  header["in_place"] = m.in_place;
  header["passed_through"] = m.passed_through;
  const std::string text = header.dump();

  std::vector<uint8_t> out(kMagic, kMagic + 8);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(kModelFormatVersion >> (8 * i)));
  put_block(out, std::vector<uint8_t>(text.begin(), text.end()));
  put_block(out, isa::serialize(m.program));
  put_block(out, data);
  return out;
}

CompiledModel deserialize_model(const std::vector<uint8_t>& bytes, const std::string& file) {
  Reader r(bytes, file);
  if (bytes.size() < 12 || std::memcmp(bytes.data(), kMagic, 8) != 0)
    r.fail("not a SeedChip compiled model (bad magic)");
  const uint32_t version = static_cast<uint32_t>(bytes[8]) | static_cast<uint32_t>(bytes[9]) << 8 |
                           static_cast<uint32_t>(bytes[10]) << 16 |
                           static_cast<uint32_t>(bytes[11]) << 24;
  if (version != kModelFormatVersion)
    r.fail("format version " + std::to_string(version) + ", this build reads version " +
           std::to_string(kModelFormatVersion) + " (recompile the model)");
  r.skip(12);
  const std::vector<uint8_t> header_bytes = r.block("the header");
  const std::vector<uint8_t> program = r.block("the program");
  const std::vector<uint8_t> data = r.block("the constant data");
  if (!r.done()) r.fail("trailing bytes after the constant data");
  CompiledModel m;
  try {
    const json h = json::parse(header_bytes.begin(), header_bytes.end());
    m.chip_name = h.at("chip").get<std::string>();
    m.chip_config = h.at("chip_config").get<std::string>();
    m.graph_name = h.at("graph").get<std::string>();
    m.hbm_bytes = h.at("hbm_bytes").get<uint64_t>();
    for (const json& j : h.at("tensors")) {
      compiler::TensorSlot t;
      t.name = j.at("name").get<std::string>();
      const std::string role = j.at("role").get<std::string>();
      bool known_role = false;
      for (TensorRole cand : {TensorRole::kInput, TensorRole::kOutput, TensorRole::kConstant,
                              TensorRole::kIntermediate})
        if (role == role_name(cand)) {
          t.role = cand;
          known_role = true;
        }
      if (!known_role) r.fail("tensor '" + t.name + "': unknown role '" + role + "'");
      const auto element = ir::element_from_name(j.at("element").get<std::string>());
      if (!element) r.fail("tensor '" + t.name + "': unknown element type");
      t.type.element = *element;
      for (const json& c : j.value("containers", json::array())) {
        const std::string name = c.get<std::string>();
        if (name == ir::container_name(ir::Container::Sequence))
          t.type.containers.push_back(ir::Container::Sequence);
        else if (name == ir::container_name(ir::Container::Optional))
          t.type.containers.push_back(ir::Container::Optional);
        else
          r.fail("tensor '" + t.name + "': unknown container '" + name + "'");
      }
      if (!j.at("dims").is_null()) t.type.dims = j.at("dims").get<std::vector<int64_t>>();
      if (!t.type.dims && t.type.containers.empty())
        r.fail("tensor '" + t.name + "': a tensor without dims");
      const auto host = ir::element_from_name(j.at("host_element").get<std::string>());
      const bool over_f32 = *element == ir::ElementType::F32 &&
                            (host == ir::ElementType::F64 || host == ir::ElementType::String);
      if (!host || (*host != *element && !over_f32))
        r.fail("tensor '" + t.name +
               "': host element type is neither its own nor f64 or string over f32");
      t.host_element = *host;
      t.hbm = j.at("hbm").get<uint64_t>();
      t.bytes = j.at("bytes").get<uint64_t>();
      t.unread = j.value("unread", false);
      if (t.unread && t.role != TensorRole::kInput)
        r.fail("tensor '" + t.name + "': only an input can be unread");
      if (j.contains("data_offset")) {
        const auto off = j.at("data_offset").get<uint64_t>();
        const auto len = j.at("data_bytes").get<uint64_t>();
        if (off > data.size() || len > data.size() - off)
          r.fail("tensor '" + t.name + "': constant data beyond the data block");
        auto tensor = std::make_shared<ir::HostTensor>();
        if (!t.type.containers.empty()) r.fail("tensor '" + t.name + "': data in a container");
        tensor->element = t.type.element;
        tensor->dims = *t.type.dims;
        tensor->bytes.assign(data.begin() + static_cast<std::ptrdiff_t>(off),
                             data.begin() + static_cast<std::ptrdiff_t>(off + len));
        if (tensor->bytes.size() != t.bytes) r.fail("tensor '" + t.name + "': data size mismatch");
        t.data = std::move(tensor);
      }
      m.tensors.push_back(std::move(t));
    }
    m.inputs = h.at("inputs").get<std::vector<size_t>>();
    m.outputs = h.at("outputs").get<std::vector<size_t>>();
    for (size_t i : m.inputs)
      if (i >= m.tensors.size()) r.fail("an input refers to no tensor");
    for (size_t i : m.outputs)
      if (i >= m.tensors.size()) r.fail("an output refers to no tensor");
    for (const json& j : h.at("ops"))
      m.ops.push_back(
          {j.at("label").get<std::string>(),
           j.at("op").get<std::string>(),
           j.at("mapping").get<std::string>(),
           j.at("barriers").get<int>(),
           {j.at("instructions").get<uint64_t>(), j.at("unit_instructions").get<uint64_t>()}});
    m.in_place = h.at("in_place").get<std::map<std::string, std::string>>();
    for (const auto& [out_name, in_name] : m.in_place) {
      auto named = [&m](const std::vector<size_t>& list,
                        const std::string& name) -> const compiler::TensorSlot* {
        for (size_t i : list)
          if (m.tensors[i].name == name) return &m.tensors[i];
        return nullptr;
      };
      const compiler::TensorSlot *o = named(m.outputs, out_name), *i = named(m.inputs, in_name);
      if (!o || !i || o->hbm != i->hbm || o->bytes != i->bytes)
        r.fail("in-place output '" + out_name + "' is not an output stored over input '" + in_name +
               "'");
    }
    m.passed_through = h.at("passed_through").get<std::map<std::string, std::string>>();
    for (const auto& [out_name, in_name] : m.passed_through) {
      auto passed = [&m](const std::vector<size_t>& list, const std::string& name) {
        return std::any_of(list.begin(), list.end(), [&](size_t i) {
          return m.tensors[i].name == name && !m.tensors[i].type.containers.empty();
        });
      };
      if (!passed(m.outputs, out_name) || !passed(m.inputs, in_name))
        r.fail("output '" + out_name + "' passed through from input '" + in_name +
               "': both must be sequence or optional values of the interface");
    }
    for (size_t i : m.outputs)
      if (!m.tensors[i].type.containers.empty() && !m.passed_through.count(m.tensors[i].name))
        r.fail("output '" + m.tensors[i].name + "' is a container that nothing passes through");
  } catch (const json::exception& e) {
    r.fail(std::string("bad header: ") + e.what());
  }
  m.program = isa::deserialize(program, file);
  return m;
}

void save_model(const CompiledModel& model, const std::string& path) {
  const std::vector<uint8_t> bytes = serialize_model(model);
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) throw InputError(path + ": cannot write the compiled model");
}

CompiledModel load_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open file");
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
  return deserialize_model(bytes, path);
}

}  // namespace seedchip::runtime
