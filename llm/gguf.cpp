#include "llm/gguf.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <vector>

#include "llm/model_io.h"
#include "llm/safetensors.h"
#include "llm/tokenizer.h"
#include "sim/numerics/numerics.h"

namespace seedchip::llm {

namespace {

constexpr int64_t kHeaderBytes = 4 + 4 + 8 + 8;
constexpr int kMaxArrayDepth = 4;              // bounds the recursion; real files nest no arrays
constexpr uint64_t kMaxElements = 1ull << 56;  // per tensor; keeps byte counts from overflowing
constexpr int kTokenTypeByte = 6;              // llama.cpp's LLAMA_TOKEN_TYPE_BYTE

std::string value_type_name(uint32_t t) {
  static const char* const names[] = {"uint8",  "int8",    "uint16", "int16",  "uint32",
                                      "int32",  "float32", "bool",   "string", "array",
                                      "uint64", "int64",   "float64"};
  return t < kGgufValueTypes ? names[t] : "unknown value type " + std::to_string(t);
}

// The byte size of a fixed-size value type; 0 for strings and arrays.
uint64_t fixed_size(uint32_t t) {
  switch (t) {
    case kGgufU8:
    case kGgufI8:
    case kGgufBool:
      return 1;
    case kGgufU16:
    case kGgufI16:
      return 2;
    case kGgufU32:
    case kGgufI32:
    case kGgufF32:
      return 4;
    case kGgufU64:
    case kGgufI64:
    case kGgufF64:
      return 8;
    default:
      return 0;
  }
}

bool is_integer(uint32_t t) {
  return t == kGgufU8 || t == kGgufI8 || t == kGgufU16 || t == kGgufI16 || t == kGgufU32 ||
         t == kGgufI32 || t == kGgufU64 || t == kGgufI64;
}

// ggml's type names (ggml.h), so that a refused tensor type is named; 4 and 5 were removed.
std::string ggml_type_label(uint32_t t) {
  static const char* const names[] = {
      "F32",     "F16",   "Q4_0",   "Q4_1",  "",      "",       "Q5_0", "Q5_1",    "Q8_0",
      "Q8_1",    "Q2_K",  "Q3_K",   "Q4_K",  "Q5_K",  "Q6_K",   "Q8_K", "IQ2_XXS", "IQ2_XS",
      "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8",   "I16",     "I32",
      "I64",     "F64",   "IQ1_M",  "BF16",  "",      "",       "",     "TQ1_0",   "TQ2_0"};
  const std::string number = "ggml type " + std::to_string(t);
  return t < std::size(names) && names[t][0] ? number + " (" + names[t] + ")" : number;
}

bool is_supported(uint32_t t) {
  switch (static_cast<GgmlType>(t)) {
    case GgmlType::F32:
    case GgmlType::F16:
    case GgmlType::BF16:
    case GgmlType::Q8_0:
    case GgmlType::Q4_0:
      return true;
  }
  return false;
}

// Bounds-checked little-endian reads from the file's bytes.
class Reader {
 public:
  Reader(const std::string& path, const uint8_t* bytes, uint64_t size)
      : path_(path), bytes_(bytes), size_(size) {}

  uint64_t pos = 0;

  // `what` names the field for the message; it is only turned into a string on failure.
  void need(uint64_t n, std::string_view what) const {
    if (size_ - pos < n)
      fail(path_, "truncated at byte " + std::to_string(pos) + " in " + std::string(what) + ": " +
                      std::to_string(n) + " bytes expected, " + std::to_string(size_ - pos) +
                      " left");
  }
  // n elements of `width` bytes each, without overflowing n * width.
  void need_elements(uint64_t n, uint64_t width, std::string_view what) const {
    if (n > (size_ - pos) / width)
      fail(path_, "truncated at byte " + std::to_string(pos) + " in " + std::string(what) + ": " +
                      std::to_string(n) + " elements of " + std::to_string(width) +
                      " bytes expected, " + std::to_string(size_ - pos) + " bytes left");
  }
  template <class T>
  T read(std::string_view what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, bytes_ + pos, sizeof v);
    pos += sizeof v;
    return v;
  }
  std::string_view string(std::string_view what) {
    const uint64_t n = read<uint64_t>(what);
    need(n, what);
    const std::string_view s(reinterpret_cast<const char*>(bytes_ + pos), n);
    pos += n;
    return s;
  }
  void skip(uint64_t n, std::string_view what) {
    need(n, what);
    pos += n;
  }

 private:
  const std::string& path_;
  const uint8_t* bytes_;
  uint64_t size_;
};

// Where a metadata value lies in the file; an array's `at` is its first element.
struct Value {
  uint32_t type = 0;
  uint64_t at = 0;
  uint32_t element_type = 0;
  uint64_t count = 0;
};

class Metadata {
 public:
  Metadata(const std::string& path, const uint8_t* bytes, uint64_t size)
      : path_(path), bytes_(bytes), size_(size) {}

  void parse(Reader& r, uint64_t count) {
    for (uint64_t i = 0; i < count; ++i) {
      const std::string key(r.string("metadata key " + std::to_string(i)));
      Value v;
      v.type = r.read<uint32_t>(key);
      v.at = r.pos;
      skip_value(r, v.type, key, 0);
      if (v.type == kGgufArray) {  // skip_value has checked the 12 bytes of element type and count
        std::memcpy(&v.element_type, bytes_ + v.at, 4);
        std::memcpy(&v.count, bytes_ + v.at + 4, 8);
        v.at += 12;
      }
      if (!values_.emplace(key, v).second) fail(path_, "key " + key + " appears twice");
    }
  }

  bool has(std::string_view key) const { return values_.find(key) != values_.end(); }

  std::optional<int64_t> optional_integer(const std::string& key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (!is_integer(v->type)) wrong_type(key, *v, "an integer");
    const uint8_t* p = bytes_ + v->at;
    switch (v->type) {
      case kGgufU8:
        return load<uint8_t>(p);
      case kGgufI8:
        return load<int8_t>(p);
      case kGgufU16:
        return load<uint16_t>(p);
      case kGgufI16:
        return load<int16_t>(p);
      case kGgufU32:
        return load<uint32_t>(p);
      case kGgufI32:
        return load<int32_t>(p);
      case kGgufI64:
        return load<int64_t>(p);
      default: {
        const uint64_t u = load<uint64_t>(p);
        if (u > static_cast<uint64_t>(INT64_MAX))
          fail(path_, "key " + key + " is " + std::to_string(u) + ", too large");
        return static_cast<int64_t>(u);
      }
    }
  }
  int64_t integer(const std::string& key) const {
    const std::optional<int64_t> v = optional_integer(key);
    if (!v) missing(key, "an integer");
    return *v;
  }

  std::optional<float> optional_number(const std::string& key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (v->type == kGgufF32) return load<float>(bytes_ + v->at);
    if (v->type == kGgufF64) return static_cast<float>(load<double>(bytes_ + v->at));
    wrong_type(key, *v, "float32");
  }
  float number(const std::string& key) const {
    const std::optional<float> v = optional_number(key);
    if (!v) missing(key, "a float32");
    return *v;
  }

  std::optional<std::string> optional_string(const std::string& key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (v->type != kGgufString) wrong_type(key, *v, "a string");
    Reader r = reader(v->at);
    return std::string(r.string(key));
  }
  std::string string(const std::string& key) const {
    const std::optional<std::string> v = optional_string(key);
    if (!v) missing(key, "a string");
    return *v;
  }

  std::vector<std::string> strings(const std::string& key) const {
    const Value& v = array(key, kGgufString);
    Reader r = reader(v.at);
    std::vector<std::string> out;
    for (uint64_t i = 0; i < v.count; ++i) out.emplace_back(r.string(key));
    return out;
  }
  template <class T>
  std::vector<T> numbers(const std::string& key, uint32_t type) const {
    const Value& v = array(key, type);
    std::vector<T> out(v.count);
    if (!out.empty()) std::memcpy(out.data(), bytes_ + v.at, v.count * sizeof(T));
    return out;
  }

 private:
  template <class T>
  static T load(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }

  void skip_value(Reader& r, uint32_t type, const std::string& key, int depth) const {
    if (type >= kGgufValueTypes)
      fail(path_, "key " + key + " has " + value_type_name(type) + ", expected 0..12");
    if (type == kGgufString) {
      r.string(key);
    } else if (type == kGgufArray) {
      if (depth == kMaxArrayDepth)
        fail(path_, "key " + key + " nests arrays deeper than " + std::to_string(kMaxArrayDepth));
      const uint32_t element = r.read<uint32_t>(key);
      const uint64_t n = r.read<uint64_t>(key);
      if (element >= kGgufValueTypes)
        fail(path_,
             "key " + key + " is an array of " + value_type_name(element) + ", expected 0..12");
      if (const uint64_t width = fixed_size(element)) {
        r.need_elements(n, width, key);
        r.pos += n * width;
      } else {
        // Each string or array takes at least 8 bytes, so truncation ends a garbled count.
        for (uint64_t i = 0; i < n; ++i) skip_value(r, element, key, depth + 1);
      }
    } else {
      r.skip(fixed_size(type), key);
    }
  }

  const Value* find(std::string_view key) const {
    const auto it = values_.find(key);
    return it == values_.end() ? nullptr : &it->second;
  }
  const Value& array(const std::string& key, uint32_t element) const {
    const Value* v = find(key);
    if (!v) missing(key, "an array of " + value_type_name(element));
    if (v->type != kGgufArray || v->element_type != element)
      wrong_type(key, *v, "an array of " + value_type_name(element));
    return *v;
  }
  Reader reader(uint64_t at) const {
    Reader r(path_, bytes_, size_);
    r.pos = at;
    return r;
  }
  [[noreturn]] void missing(const std::string& key, const std::string& expected) const {
    fail(path_, "key " + key + " is missing, expected " + expected);
  }
  [[noreturn]] void wrong_type(const std::string& key, const Value& v,
                               const std::string& expected) const {
    const std::string has = v.type == kGgufArray ? "an array of " + value_type_name(v.element_type)
                                                 : value_type_name(v.type);
    fail(path_, "key " + key + " has type " + has + ", expected " + expected);
  }

  const std::string& path_;
  const uint8_t* bytes_;
  uint64_t size_;
  std::map<std::string, Value, std::less<>> values_;
};

struct TensorInfo {
  std::vector<int64_t> ne;
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;  // from the start of the file, once the data section is known
  uint64_t elements = 1;
};

std::string dims_text(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

std::map<std::string, TensorInfo, std::less<>> read_tensor_infos(const std::string& path, Reader& r,
                                                                 uint64_t count) {
  std::map<std::string, TensorInfo, std::less<>> tensors;
  for (uint64_t i = 0; i < count; ++i) {
    const std::string name(r.string("tensor info " + std::to_string(i) + " name"));
    const std::string what = "tensor " + name;
    TensorInfo t;
    const uint32_t n_dims = r.read<uint32_t>(what);
    if (n_dims < 1 || n_dims > 4)
      fail(path, what + " has n_dims " + std::to_string(n_dims) + ", expected 1..4");
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t ne = r.read<uint64_t>(what);
      if (ne == 0 || ne > kMaxElements / t.elements)
        fail(path, what + " has ne[" + std::to_string(d) + "] = " + std::to_string(ne) +
                       ", expected at least 1 and at most 2^56 elements in all");
      t.ne.push_back(static_cast<int64_t>(ne));
      t.elements *= ne;
    }
    const uint32_t type = r.read<uint32_t>(what);
    if (!is_supported(type))
      fail(path,
           what + " has " + ggml_type_label(type) + ", expected F32, F16, BF16, Q8_0 or Q4_0");
    t.type = static_cast<GgmlType>(type);
    if ((t.type == GgmlType::Q8_0 || t.type == GgmlType::Q4_0) && t.ne[0] % kQuantBlock != 0)
      fail(path, what + " has rows of " + std::to_string(t.ne[0]) +
                     " elements, expected a multiple of the " + std::to_string(kQuantBlock) +
                     "-element " + std::string(ggml_type_name(t.type)) + " block");
    t.offset = r.read<uint64_t>(what);
    if (!tensors.emplace(name, std::move(t)).second) fail(path, what + " appears twice");
  }
  return tensors;
}

// Places the tensors in the data section and checks each lies inside the file.
void place_tensors(const std::string& path, std::map<std::string, TensorInfo, std::less<>>& tensors,
                   uint64_t data_start, uint64_t alignment, uint64_t file_size) {
  for (auto& [name, t] : tensors) {
    if (t.offset % alignment != 0)
      fail(path, "tensor " + name + " has offset " + std::to_string(t.offset) +
                     ", expected a multiple of the alignment " + std::to_string(alignment));
    const uint64_t bytes = ggml_tensor_bytes(t.type, t.elements);
    if (data_start > file_size || t.offset > file_size - data_start ||
        bytes > file_size - data_start - t.offset)
      fail(path, "tensor " + name + " (" + std::to_string(bytes) + " bytes at data offset " +
                     std::to_string(t.offset) + ") ends beyond the file: the data section starts " +
                     "at byte " + std::to_string(data_start) + " of " + std::to_string(file_size));
    t.offset += data_start;
  }
}

// The embedded SentencePiece vocabulary, or null for a file without one or with another kind.
std::shared_ptr<const Tokenizer> read_vocabulary(const std::string& path, const Metadata& meta,
                                                 int64_t vocab_size) {
  const std::optional<std::string> kind = meta.optional_string("tokenizer.ggml.model");
  if (kind != "llama") return nullptr;
  std::vector<std::string> tokens = meta.strings("tokenizer.ggml.tokens");
  if (static_cast<int64_t>(tokens.size()) != vocab_size)
    fail(path, "key tokenizer.ggml.tokens has " + std::to_string(tokens.size()) +
                   " tokens, expected the " + std::to_string(vocab_size) +
                   " rows of token_embd.weight");
  std::vector<float> scores = meta.numbers<float>("tokenizer.ggml.scores", kGgufF32);
  if (scores.size() != tokens.size())
    fail(path, "key tokenizer.ggml.scores has " + std::to_string(scores.size()) +
                   " scores, expected one per token (" + std::to_string(tokens.size()) + ")");
  if (meta.has("tokenizer.ggml.token_type")) {
    const std::vector<int32_t> types = meta.numbers<int32_t>("tokenizer.ggml.token_type", kGgufI32);
    if (types.size() != tokens.size())
      fail(path, "key tokenizer.ggml.token_type has " + std::to_string(types.size()) +
                     " entries, expected one per token (" + std::to_string(tokens.size()) + ")");
    // Byte fallback encodes byte b as token 3 + b; llama.cpp marks those tokens BYTE.
    for (int id = Tokenizer::kFirstByteToken;
         id < Tokenizer::kFirstByteToken + 256 && id < vocab_size; ++id)
      if (types[static_cast<size_t>(id)] != kTokenTypeByte)
        fail(path, "key tokenizer.ggml.token_type[" + std::to_string(id) + "] is " +
                       std::to_string(types[static_cast<size_t>(id)]) + ", expected " +
                       std::to_string(kTokenTypeByte) + " (byte) for the byte tokens 3..258");
  }
  // Tokenizer's BOS and EOS are llama2.c's fixed ids.
  const std::pair<const char*, int> specials[] = {{"tokenizer.ggml.bos_token_id", Tokenizer::kBos},
                                                  {"tokenizer.ggml.eos_token_id", Tokenizer::kEos}};
  for (const auto& [key, id] : specials)
    if (const std::optional<int64_t> v = meta.optional_integer(key); v && *v != id)
      fail(path, "key " + std::string(key) + " is " + std::to_string(*v) + ", expected " +
                     std::to_string(id));
  for (size_t i = 0; i < tokens.size(); ++i)
    tokens[i] = piece_from_gguf(static_cast<int>(i), tokens[i]);
  return std::make_shared<const Tokenizer>(Tokenizer::from_vocabulary(
      path + ": tokenizer.ggml.tokens", std::move(tokens), std::move(scores)));
}

}  // namespace

uint64_t ggml_tensor_bytes(GgmlType t, uint64_t elements) {
  switch (t) {
    case GgmlType::F32:
      return elements * 4;
    case GgmlType::F16:
    case GgmlType::BF16:
      return elements * 2;
    case GgmlType::Q8_0:
      return elements / kQuantBlock * kQ8_0BlockBytes;
    case GgmlType::Q4_0:
      return elements / kQuantBlock * kQ4_0BlockBytes;
  }
  return 0;
}

std::string_view ggml_type_name(GgmlType t) {
  switch (t) {
    case GgmlType::F32:
      return "F32";
    case GgmlType::F16:
      return "F16";
    case GgmlType::BF16:
      return "BF16";
    case GgmlType::Q8_0:
      return "Q8_0";
    case GgmlType::Q4_0:
      return "Q4_0";
  }
  return "?";
}

void dequantize_q8_0(const uint8_t* blocks, float* out, size_t n) {
  for (size_t b = 0; b < n / kQuantBlock; ++b, blocks += kQ8_0BlockBytes) {
    uint16_t bits;
    std::memcpy(&bits, blocks, 2);
    const float d = numerics::fp16_to_fp32(bits);
    for (int j = 0; j < kQuantBlock; ++j)
      *out++ = static_cast<float>(static_cast<int8_t>(blocks[2 + j])) * d;
  }
}

void dequantize_q4_0(const uint8_t* blocks, float* out, size_t n) {
  constexpr int kHalf = kQuantBlock / 2;
  for (size_t b = 0; b < n / kQuantBlock; ++b, blocks += kQ4_0BlockBytes, out += kQuantBlock) {
    uint16_t bits;
    std::memcpy(&bits, blocks, 2);
    const float d = numerics::fp16_to_fp32(bits);
    for (int j = 0; j < kHalf; ++j) {
      const uint8_t q = blocks[2 + j];
      out[j] = static_cast<float>((q & 0x0F) - 8) * d;
      out[j + kHalf] = static_cast<float>((q >> 4) - 8) * d;
    }
  }
}

void quantize_q8_0(const float* in, uint8_t* blocks, size_t n) {
  for (size_t b = 0; b < n / kQuantBlock; ++b, in += kQuantBlock, blocks += kQ8_0BlockBytes) {
    float amax = 0;
    for (int j = 0; j < kQuantBlock; ++j) amax = std::max(amax, std::fabs(in[j]));
    const float d = amax / 127;
    const float id = d != 0 ? 1 / d : 0;
    const uint16_t bits = numerics::fp32_to_fp16(d);
    std::memcpy(blocks, &bits, 2);
    for (int j = 0; j < kQuantBlock; ++j)
      blocks[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::round(in[j] * id)));
  }
}

void quantize_q4_0(const float* in, uint8_t* blocks, size_t n) {
  constexpr int kHalf = kQuantBlock / 2;
  for (size_t b = 0; b < n / kQuantBlock; ++b, in += kQuantBlock, blocks += kQ4_0BlockBytes) {
    float amax = 0, max = 0;  // the largest magnitude, and the value that has it (with its sign)
    for (int j = 0; j < kQuantBlock; ++j)
      if (std::fabs(in[j]) > amax) {
        amax = std::fabs(in[j]);
        max = in[j];
      }
    const float d = max / -8;
    const float id = d != 0 ? 1 / d : 0;
    const uint16_t bits = numerics::fp32_to_fp16(d);
    std::memcpy(blocks, &bits, 2);
    const auto q = [&](float x) { return std::min<int>(15, static_cast<int8_t>(x * id + 8.5f)); };
    for (int j = 0; j < kHalf; ++j)
      blocks[2 + j] = static_cast<uint8_t>(q(in[j]) | (q(in[j + kHalf]) << 4));
  }
}

namespace {

const std::string kSpaceMark = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  size_t at = 0;
  for (size_t hit; (hit = s.find(from, at)) != std::string_view::npos; at = hit + from.size())
    out.append(s.substr(at, hit - at)).append(to);
  return out.append(s.substr(at));
}

bool is_bos_or_eos(int id) { return id == Tokenizer::kBos || id == Tokenizer::kEos; }

}  // namespace

std::string piece_from_gguf(int id, std::string_view piece) {
  if (is_bos_or_eos(id)) return "\n" + std::string(piece) + "\n";
  return replace_all(piece, kSpaceMark, " ");
}

std::string piece_to_gguf(int id, std::string_view piece) {
  if (is_bos_or_eos(id) && piece.size() >= 2 && piece.front() == '\n' && piece.back() == '\n')
    return std::string(piece.substr(1, piece.size() - 2));
  return replace_all(piece, " ", kSpaceMark);
}

namespace {

std::string header_text() { return std::to_string(kHeaderBytes) + "-byte GGUF header"; }

}  // namespace

LlamaModel load_gguf(const std::string& path) {
  const MappedFile file = map_file(path, kHeaderBytes, header_text());
  LlamaModel m = load_gguf_bytes({file.bytes, static_cast<size_t>(file.size)}, path);
  ModelStorage::keep_mapping(m, file.mapping);
  return m;
}

LlamaModel load_gguf_bytes(std::span<const uint8_t> bytes, const std::string& path) {
  if (bytes.size() < static_cast<uint64_t>(kHeaderBytes))
    fail(path,
         "file is " + std::to_string(bytes.size()) + " bytes, too short for the " + header_text());
  LlamaModel m;
  m.path = path;
  const uint64_t size = bytes.size();
  Reader r(path, bytes.data(), size);

  const uint32_t magic = r.read<uint32_t>("magic");
  if (magic != kGgufMagic) {
    char text[5] = {};
    std::memcpy(text, &magic, 4);
    for (char& ch : text)
      if (ch && (ch < 0x20 || ch > 0x7e)) ch = '?';
    fail(path, std::string("magic is \"") + text + "\", expected \"GGUF\"");
  }
  const uint32_t version = r.read<uint32_t>("version");
  if (version != kGgufVersion) fail(path, "version is " + std::to_string(version) + ", expected 3");
  const uint64_t tensor_count = r.read<uint64_t>("tensor_count");
  const uint64_t kv_count = r.read<uint64_t>("metadata_kv_count");

  Metadata meta(path, bytes.data(), size);
  meta.parse(r, kv_count);
  std::map<std::string, TensorInfo, std::less<>> tensors = read_tensor_infos(path, r, tensor_count);
  uint64_t alignment = kGgufDefaultAlignment;
  if (const std::optional<int64_t> a = meta.optional_integer("general.alignment")) {
    // The spec asks for a multiple of 8; ggml pads with power-of-two arithmetic.
    if (*a < 8 || (*a & (*a - 1)) != 0)
      fail(path, "key general.alignment is " + std::to_string(*a) +
                     ", expected a power of two, at least 8");
    alignment = static_cast<uint64_t>(*a);
  }
  const uint64_t data_start = (r.pos + alignment - 1) / alignment * alignment;
  place_tensors(path, tensors, data_start, alignment, size);

  // "llama" (Llama 1-3, Mixtral with llama.expert_count), "qwen2" (Qwen2 / Qwen2.5: q/k/v
  // biases), "qwen3" (per-head q/k norms, its own head width) or "qwen3moe" (Qwen3 with experts).
  // llama.cpp rotates the Qwen families' Q and K halves (GGML_ROPE_TYPE_NEOX), and its converter
  // leaves Hugging Face's rotate-half rows as they are.
  const std::string arch = meta.string("general.architecture");
  if (arch != "llama" && arch != "qwen2" && arch != "qwen3" && arch != "qwen3moe")
    fail(path, "key general.architecture is \"" + arch +
                   "\", expected \"llama\", \"qwen2\", \"qwen3\" or \"qwen3moe\"");
  const std::string k = arch + ".";
  const bool qwen2 = arch == "qwen2", qwen3 = arch == "qwen3" || arch == "qwen3moe";
  const bool rotate_half = arch != "llama";
  LlamaConfig& c = m.config;
  // Qwen3's names are Hugging Face's model_type, so that a model reads the same from both formats.
  c.name = arch == "qwen3moe" ? "qwen3_moe" : arch;
  c.attention_bias = qwen2;
  c.qk_norm = qwen3;
  if (const std::optional<int64_t> experts = meta.optional_integer(k + "expert_count");
      experts && *experts != 0) {
    if (arch == "qwen2" || arch == "qwen3")
      fail(path, "key " + k + "expert_count is " + std::to_string(*experts) +
                     ", expected 0: general.architecture \"" + arch +
                     "\" has no experts (Qwen2-MoE is \"qwen2moe\", not supported; Qwen3-MoE is "
                     "\"qwen3moe\")");
    c.n_experts = *experts;
    c.experts_per_token = meta.integer(k + "expert_used_count");
    check_experts(path, c, "key " + k + "expert_count", "key " + k + "expert_used_count");
  } else if (arch == "qwen3moe") {
    fail(path, "key " + k + "expert_count is missing or 0, expected at least 1");
  }
  // llama.cpp always renormalises Qwen3-MoE's chosen probabilities (build_moe_ffn with norm_w),
  // as the released checkpoints' norm_topk_prob asks.
  if (arch == "qwen3moe") c.expert_gating = ExpertGating::kChosenOfSoftmaxNormalized;
  if (const std::optional<std::string> scaling = meta.optional_string(k + "rope.scaling.type");
      scaling && *scaling != "none")
    fail(path, "key " + k + "rope.scaling.type is \"" + *scaling +
                   "\", expected \"none\": RoPE scaling is not supported");
  if (tensors.count("rope_freqs.weight"))
    fail(path, "tensor rope_freqs.weight (RoPE frequency factors) is not supported");
  if (!qwen2 && tensors.count("blk.0.attn_q.bias"))
    fail(path,
         "tensor blk.0.attn_q.bias: attention biases are read for general.architecture "
         "\"qwen2\" only");

  c.dim = meta.integer(k + "embedding_length");
  // Qwen3-MoE's experts have their own width; its feed_forward_length is that of dense layers.
  const std::string hidden_key =
      k + (arch == "qwen3moe" ? "expert_feed_forward_length" : "feed_forward_length");
  c.hidden_dim = meta.integer(hidden_key);
  c.n_layers = meta.integer(k + "block_count");
  c.n_heads = meta.integer(k + "attention.head_count");
  c.n_kv_heads = meta.optional_integer(k + "attention.head_count_kv").value_or(c.n_heads);
  c.seq_len = meta.integer(k + "context_length");
  c.rope_theta = meta.optional_number(k + "rope.freq_base").value_or(10000.0f);
  c.norm_eps = meta.number(k + "attention.layer_norm_rms_epsilon");
  const auto embd = tensors.find("token_embd.weight");
  if (embd == tensors.end()) fail(path, "tensor token_embd.weight is missing");
  if (embd->second.ne.size() != 2)
    fail(path, "tensor token_embd.weight has dims " + dims_text(embd->second.ne) +
                   ", expected [embedding_length, vocabulary]");
  c.vocab_size = embd->second.ne[1];
  // Qwen3's head width is attention.key_length (the value heads' must be the same).
  if (const std::optional<int64_t> key_length = meta.optional_integer(k + "attention.key_length")) {
    set_head_dim(path, c, *key_length, "key " + k + "attention.key_length");
    if (const std::optional<int64_t> value_length =
            meta.optional_integer(k + "attention.value_length");
        value_length && *value_length != *key_length)
      fail(path, "key " + k + "attention.value_length is " + std::to_string(*value_length) +
                     ", expected attention.key_length " + std::to_string(*key_length));
  }
  check_config(path, c,
               {"key ", k + "embedding_length", hidden_key, k + "block_count",
                k + "attention.head_count", k + "attention.head_count_kv",
                k + "vocab_size (token_embd.weight ne[1])", k + "context_length"});
  if (const std::optional<int64_t> v = meta.optional_integer(k + "vocab_size");
      v && *v != c.vocab_size)
    fail(path, "key " + k + "vocab_size is " + std::to_string(*v) + ", expected the " +
                   std::to_string(c.vocab_size) + " rows of token_embd.weight");
  if (const std::optional<int64_t> rope = meta.optional_integer(k + "rope.dimension_count");
      rope && *rope != c.head_dim())
    fail(path, "key " + k + "rope.dimension_count is " + std::to_string(*rope) +
                   ", expected the head dimension " + std::to_string(c.head_dim()) +
                   " (partial RoPE is not supported)");

  // A tensor of the given dims (innermost first) as FP32; Qwen2's Q and K rows (and biases),
  // rope_heads > 0, permuted from rotate-half to interleaved pairs.
  const auto tensor = [&](const std::string& name, const std::vector<int64_t>& ne,
                          int64_t rope_heads = 0) -> std::span<const float> {
    const auto it = tensors.find(name);
    if (it == tensors.end()) fail(path, "tensor " + name + " is missing");
    const TensorInfo& t = it->second;
    if (t.ne != ne)
      fail(path, "tensor " + name + " has dims " + dims_text(t.ne) + ", expected " + dims_text(ne));
    const uint8_t* p = bytes.data() + t.offset;
    // data_start and the offsets are multiples of the alignment (>= 8), so the floats are aligned
    // when the image is (a mapped file always is).
    const bool aligned = reinterpret_cast<uintptr_t>(p) % alignof(float) == 0;
    if (t.type == GgmlType::F32 && aligned && !rope_heads)
      return {reinterpret_cast<const float*>(p), static_cast<size_t>(t.elements)};
    const std::span<float> out = ModelStorage::own(m, t.elements);
    switch (t.type) {
      case GgmlType::F16:
        numerics::to_fp32(DataType::FP16, p, out.data(), out.size());
        break;
      case GgmlType::BF16:
        numerics::to_fp32(DataType::BF16, p, out.data(), out.size());
        break;
      case GgmlType::Q8_0:
        dequantize_q8_0(p, out.data(), out.size());
        break;
      case GgmlType::Q4_0:
        dequantize_q4_0(p, out.data(), out.size());
        break;
      case GgmlType::F32:
        std::memcpy(out.data(), p, out.size_bytes());
        break;
    }
    if (rope_heads) {
      const std::vector<float> rotate_half(out.begin(), out.end());
      rotate_half_to_interleaved(rotate_half, out, rope_heads, ne.size() > 1 ? ne[0] : 1);
    }
    return out;
  };
  // GGUF stacks a layer's experts in one 3-D tensor (ne = [in, out, experts]): one span each.
  const auto experts = [&](const std::string& name, int64_t in, int64_t out) {
    const std::span<const float> all = tensor(name, {in, out, c.n_experts});
    std::vector<std::span<const float>> each;
    for (int64_t e = 0; e < c.n_experts; ++e)
      each.push_back(all.subspan(static_cast<size_t>(e * in * out), static_cast<size_t>(in * out)));
    return each;
  };

  const int64_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim(), q = c.q_dim();
  LlamaWeights& w = m.weights;
  w.token_embedding = tensor("token_embd.weight", {d, c.vocab_size});
  w.layers.resize(static_cast<size_t>(c.n_layers));
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    LlamaLayer& l = w.layers[static_cast<size_t>(i)];
    const int64_t q_heads = rotate_half ? c.n_heads : 0, k_heads = rotate_half ? c.n_kv_heads : 0;
    l.rms_att = tensor(p + "attn_norm.weight", {d});
    l.wq = tensor(p + "attn_q.weight", {d, q}, q_heads);
    l.wk = tensor(p + "attn_k.weight", {d, kv}, k_heads);
    l.wv = tensor(p + "attn_v.weight", {d, kv});
    l.wo = tensor(p + "attn_output.weight", {q, d});
    l.rms_ffn = tensor(p + "ffn_norm.weight", {d});
    if (c.attention_bias) {
      l.bq = tensor(p + "attn_q.bias", {q}, q_heads);
      l.bk = tensor(p + "attn_k.bias", {kv}, k_heads);
      l.bv = tensor(p + "attn_v.bias", {kv});
    }
    if (c.qk_norm) {  // one head's gains, permuted as each head's rows of attn_q and attn_k
      l.q_norm = tensor(p + "attn_q_norm.weight", {c.head_dim()}, 1);
      l.k_norm = tensor(p + "attn_k_norm.weight", {c.head_dim()}, 1);
    }
    if (c.n_experts) {
      l.router = tensor(p + "ffn_gate_inp.weight", {d, c.n_experts});
      const auto gate = experts(p + "ffn_gate_exps.weight", d, h);
      const auto down = experts(p + "ffn_down_exps.weight", h, d);
      const auto up = experts(p + "ffn_up_exps.weight", d, h);
      for (int64_t e = 0; e < c.n_experts; ++e) {
        const size_t x = static_cast<size_t>(e);
        l.experts.push_back({gate[x], down[x], up[x]});
      }
    } else {
      l.w1 = tensor(p + "ffn_gate.weight", {d, h});
      l.w2 = tensor(p + "ffn_down.weight", {h, d});
      l.w3 = tensor(p + "ffn_up.weight", {d, h});
    }
  }
  w.rms_final = tensor("output_norm.weight", {d});
  c.shared_classifier = !tensors.count("output.weight");
  w.classifier =
      c.shared_classifier ? w.token_embedding : tensor("output.weight", {d, c.vocab_size});
  m.tokenizer = read_vocabulary(path, meta, c.vocab_size);
  return m;
}

}  // namespace seedchip::llm
