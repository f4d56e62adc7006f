#include "compiler/ir/text.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "arch/error.h"

namespace seedchip::compiler::ir {

namespace {

// ---------------------------------------------------------------------------------------------
// Spelling shared by the printer and the parser.

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_ident_start(char c) { return is_alpha(c) || c == '_'; }
bool is_ident_char(char c) { return is_ident_start(c) || is_digit(c) || c == '.'; }
bool is_name_char(char c) {
  return is_alpha(c) || is_digit(c) || c == '_' || c == '.' || c == ':' || c == '/' || c == '-';
}

std::string quote(std::string_view s) {
  static constexpr std::string_view kHex = "0123456789abcdef";
  std::string out = "\"";
  for (char c : s) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20 || byte == 0x7f) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    } else {
      out += c;
    }
  }
  return out + '"';
}

std::string name_text(std::string_view name) {
  const bool bare =
      !name.empty() && name.back() != ':' && std::all_of(name.begin(), name.end(), is_name_char);
  return "%" + (bare ? std::string(name) : quote(name));
}

std::string ident_text(std::string_view s) {
  const bool bare =
      !s.empty() && is_ident_start(s[0]) && std::all_of(s.begin(), s.end(), is_ident_char);
  return bare ? std::string(s) : quote(s);
}

// The product of dims, or nullopt when a dim is negative or a partial product leaves int64 (so
// HostTensor::element_count() never overflows on what parse() accepts).
std::optional<int64_t> checked_count(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims)
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return std::nullopt;
  return n;
}

// f16 and bf16: IEEE binary formats narrower than float, described by their field widths.
struct SmallFloat {
  int exponent_bits, fraction_bits;
};
constexpr SmallFloat kF16{5, 10};
constexpr SmallFloat kBF16{8, 7};

double widen(uint16_t bits, SmallFloat f) {
  const int bias = (1 << (f.exponent_bits - 1)) - 1;
  const uint32_t max_exponent = (1u << f.exponent_bits) - 1;
  const uint32_t fraction = bits & ((1u << f.fraction_bits) - 1);
  const uint32_t exponent = (bits >> f.fraction_bits) & max_exponent;
  double v;
  if (exponent == 0)
    v = std::ldexp(fraction, 1 - bias - f.fraction_bits);
  else if (exponent == max_exponent)
    v = fraction ? std::numeric_limits<double>::quiet_NaN()
                 : std::numeric_limits<double>::infinity();
  else
    v = std::ldexp(fraction | (1u << f.fraction_bits),
                   static_cast<int>(exponent) - bias - f.fraction_bits);
  return std::copysign(v, (bits >> (f.exponent_bits + f.fraction_bits)) ? -1.0 : 1.0);
}

// Rounds to nearest even directly from double: going through float first could round twice.
uint16_t narrow(double d, SmallFloat f) {
  const uint32_t sign = std::signbit(d) ? 1u << (f.exponent_bits + f.fraction_bits) : 0;
  const uint32_t max_exponent = (1u << f.exponent_bits) - 1;
  const uint64_t infinity = uint64_t{max_exponent} << f.fraction_bits;
  if (std::isnan(d)) return static_cast<uint16_t>(sign | infinity | (1u << (f.fraction_bits - 1)));
  const auto u = std::bit_cast<uint64_t>(std::fabs(d));
  const int biased = static_cast<int>(u >> 52);
  // Zero and double subnormals (below 2^-1022) are far below the smallest f16/bf16 subnormal.
  if (biased == 0) return static_cast<uint16_t>(sign);
  const int bias = (1 << (f.exponent_bits - 1)) - 1;
  const int exponent = biased - 1023;
  if (biased == 0x7ff || exponent + bias >= static_cast<int>(max_exponent))
    return static_cast<uint16_t>(sign | infinity);
  const uint64_t significand = (u & ((uint64_t{1} << 52) - 1)) | (uint64_t{1} << 52);
  const int min_exponent = 1 - bias;
  int shift = 52 - f.fraction_bits;
  if (exponent < min_exponent) shift += min_exponent - exponent;
  if (shift > 63) return static_cast<uint16_t>(sign);
  const uint64_t truncated = significand >> shift;
  const uint64_t rest = significand & ((uint64_t{1} << shift) - 1);
  const uint64_t half = uint64_t{1} << (shift - 1);
  const uint64_t rounded = truncated + (rest > half || (rest == half && (truncated & 1)));
  // A rounding carry out of the fraction moves into the exponent field, as it should.
  const uint64_t bits = exponent < min_exponent ? rounded
                                                : (uint64_t(exponent + bias) << f.fraction_bits) +
                                                      (rounded - (uint64_t{1} << f.fraction_bits));
  return static_cast<uint16_t>(sign | std::min(bits, infinity));
}

template <class T>
std::string shortest(T v) {
  if (std::isnan(v)) return std::signbit(v) ? "-nan" : "nan";
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, result.ptr);
}

double parse_double(std::string_view s) {
  double v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::string small_float_text(uint16_t bits, SmallFloat f) {
  const auto v = static_cast<float>(widen(bits, f));
  std::string best = shortest(v);
  if (!std::isfinite(v)) return best;
  // to_chars has no 16-bit formats; fewer digits than float's shortest often name the same bits
  // (f16 0.1 is float 0.099975586).
  for (int precision = 1; precision < 9; ++precision) {
    char buf[64];
    const auto result =
        std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, precision);
    std::string candidate(buf, result.ptr);
    if (candidate.size() < best.size() && narrow(parse_double(candidate), f) == bits)
      best = std::move(candidate);
  }
  return best;
}

// Attribute floats keep a point so that they read back as floats, not ints.
std::string attribute_float_text(float v) {
  std::string s = shortest(v);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

uint64_t read_le(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

void append_le(std::vector<uint8_t>& bytes, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) bytes.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// ---------------------------------------------------------------------------------------------
// Printer.

constexpr size_t kMaxNesting = 64;  // graphs within graph attributes; deeper is surely a cycle

bool valid(const Graph& g, ValueId id) {
  return id >= 0 && static_cast<size_t>(id) < g.values.size();
}

std::string ref_text(const Graph& g, ValueId id) {
  if (id == kNoValue) return "_";
  if (!valid(g, id)) return "<invalid value " + std::to_string(id) + ">";
  return name_text(g.value(id).name);
}

std::string decl_text(const Graph& g, ValueId id) {
  std::string s = ref_text(g, id);
  if (!valid(g, id)) return s;
  const TensorType& t = g.value(id).type;
  if (t.element == ElementType::Undefined && !t.dims && t.containers.empty()) return s;
  return s + ": " + type_text(t);
}

std::string element_text(const HostTensor& t, size_t i) {
  const size_t size = element_bytes(t.element);
  const uint8_t* p = t.bytes.data() + i * size;
  const auto f32 = [](uint64_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits)); };
  const auto f64 = [](uint64_t bits) { return std::bit_cast<double>(bits); };
  switch (t.element) {
    case ElementType::F32:
      return shortest(f32(read_le(p, 4)));
    case ElementType::F64:
      return shortest(f64(read_le(p, 8)));
    case ElementType::F16:
      return small_float_text(static_cast<uint16_t>(read_le(p, 2)), kF16);
    case ElementType::BF16:
      return small_float_text(static_cast<uint16_t>(read_le(p, 2)), kBF16);
    case ElementType::I8:
      return std::to_string(static_cast<int8_t>(read_le(p, 1)));
    case ElementType::I16:
      return std::to_string(static_cast<int16_t>(read_le(p, 2)));
    case ElementType::I32:
      return std::to_string(static_cast<int32_t>(read_le(p, 4)));
    case ElementType::I64:
      return std::to_string(static_cast<int64_t>(read_le(p, 8)));
    case ElementType::U8:
    case ElementType::U16:
    case ElementType::U32:
    case ElementType::U64:
      return std::to_string(read_le(p, size));
    case ElementType::Bool:
      return p[0] ? "1" : "0";
    case ElementType::String:
      return quote(t.strings[i]);
    case ElementType::C64:
      return "(" + shortest(f32(read_le(p, 4))) + ", " + shortest(f32(read_le(p + 4, 4))) + ")";
    case ElementType::C128:
      return "(" + shortest(f64(read_le(p, 8))) + ", " + shortest(f64(read_le(p + 8, 8))) + ")";
    case ElementType::Undefined:
      break;  // data_text() prints no elements of this type
  }
  return {};
}

std::string data_text(const HostTensor& t, const PrintOptions& options) {
  const std::optional<int64_t> count = checked_count(t.dims);
  const size_t size = element_bytes(t.element);
  const bool consistent = count && (t.element == ElementType::String
                                        ? t.strings.size() == static_cast<size_t>(*count)
                                        : size != 0 && t.bytes.size() % size == 0 &&
                                              t.bytes.size() / size == static_cast<size_t>(*count));
  if (!consistent) return "<unprintable data>";
  const auto n = static_cast<size_t>(*count);
  if (n > options.max_inline_elements) return "<" + std::to_string(n) + " elements>";
  std::string s = "[";
  for (size_t i = 0; i < n; ++i) s += (i ? ", " : "") + element_text(t, i);
  return s + ']';
}

std::string tensor_text(const HostTensorPtr& t, const PrintOptions& options) {
  if (!t) return "<null tensor>";
  return "tensor " + type_text(t->type()) + " " + data_text(*t, options);
}

void print_body(const Graph& g, const PrintOptions& options, size_t indent, std::string& out);

std::string graph_text(const GraphPtr& g, const PrintOptions& options, size_t indent) {
  if (!g) return "<null graph>";
  if (indent / 2 > kMaxNesting) return "<graph nested too deeply>";
  std::string s = "graph {\n";
  print_body(*g, options, indent + 2, s);
  return s + std::string(indent, ' ') + "}";
}

template <class T, class F>
std::string join(const std::vector<T>& items, F&& text) {
  std::string s;
  for (size_t i = 0; i < items.size(); ++i) s += (i ? ", " : "") + text(items[i]);
  return s;
}

// `indent` is that of the node's line, for nested graphs.
std::string attribute_text(const AttributeValue& value, const PrintOptions& options,
                           size_t indent) {
  const auto tensor = [&](const HostTensorPtr& t) { return tensor_text(t, options); };
  const auto graph = [&](const GraphPtr& g) { return graph_text(g, options, indent); };
  const auto list = [](std::string_view kind, std::string items) {
    return items.empty() ? std::string(kind) + " []" : "[" + items + "]";
  };
  return std::visit(
      [&](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, int64_t>) return std::to_string(v);
        if constexpr (std::is_same_v<T, float>) return attribute_float_text(v);
        if constexpr (std::is_same_v<T, std::string>) return quote(v);
        if constexpr (std::is_same_v<T, HostTensorPtr>) return tensor(v);
        if constexpr (std::is_same_v<T, GraphPtr>) return graph(v);
        if constexpr (std::is_same_v<T, std::vector<int64_t>>)
          return list("ints", join(v, [](int64_t i) { return std::to_string(i); }));
        if constexpr (std::is_same_v<T, std::vector<float>>)
          return list("floats", join(v, attribute_float_text));
        if constexpr (std::is_same_v<T, std::vector<std::string>>)
          return list("strings", join(v, quote));
        if constexpr (std::is_same_v<T, std::vector<HostTensorPtr>>)
          return "tensors [" + join(v, tensor) + "]";
        if constexpr (std::is_same_v<T, std::vector<GraphPtr>>)
          return "graphs [" + join(v, graph) + "]";
      },
      value);
}

std::string node_text(const Graph& g, const Node& node, const PrintOptions& options,
                      size_t indent) {
  std::string s = node.outputs.empty()
                      ? "()"
                      : join(node.outputs, [&](ValueId id) { return decl_text(g, id); });
  s += " = ";
  if (!node.domain.empty()) s += ident_text(node.domain) + "::";
  s += ident_text(node.op) + "(" + join(node.inputs, [&](ValueId id) { return ref_text(g, id); }) +
       ")";
  if (!node.attributes.empty()) {
    s += " {";
    bool first = true;
    for (const auto& [key, value] : node.attributes) {
      s += (first ? "" : ", ") + ident_text(key) + " = " + attribute_text(value, options, indent);
      first = false;
    }
    s += "}";
  }
  if (!node.name.empty()) s += " @" + quote(node.name);
  return s;
}

void print_body(const Graph& g, const PrintOptions& options, size_t indent, std::string& out) {
  const std::string pad(indent, ' ');
  const auto constant_suffix = [&](ValueId id) {
    return valid(g, id) && g.value(id).constant ? " = " + data_text(*g.value(id).constant, options)
                                                : std::string();
  };
  std::vector<bool> is_input(g.values.size(), false);
  for (ValueId id : g.inputs) {
    if (valid(g, id)) is_input[static_cast<size_t>(id)] = true;
    out += pad + "input " + decl_text(g, id) + constant_suffix(id) + "\n";
  }
  for (size_t i = 0; i < g.values.size(); ++i) {
    const auto id = static_cast<ValueId>(i);
    if (g.values[i].constant && !is_input[i])
      out += pad + "const " + decl_text(g, id) + constant_suffix(id) + "\n";
  }
  for (const Node& node : g.nodes) out += pad + node_text(g, node, options, indent) + "\n";
  for (ValueId id : g.outputs) out += pad + "output " + ref_text(g, id) + "\n";
}

// ---------------------------------------------------------------------------------------------
// Parser: a hand-written lexer with one token of lookahead and a recursive-descent grammar whose
// only unbounded nesting, graphs within graph attributes, stops at kMaxNesting, so no input can
// exhaust the stack.

enum class Tok { Ident, Number, String, Name, Punct, Newline, End };

struct Token {
  Tok kind = Tok::End;
  std::string text;  // decoded for strings and names; "-inf" and "-nan" are numbers
  size_t line = 0, column = 0;
};

bool is_number(const Token& t) {
  return t.kind == Tok::Number || (t.kind == Tok::Ident && (t.text == "inf" || t.text == "nan"));
}

bool is_integer_text(std::string_view s) {
  if (!s.empty() && s[0] == '-') s.remove_prefix(1);
  return !s.empty() && std::all_of(s.begin(), s.end(), is_digit);
}

std::string describe(const Token& t) {
  constexpr size_t kShown = 40;
  const std::string text = t.text.size() > kShown ? t.text.substr(0, kShown) + "..." : t.text;
  switch (t.kind) {
    case Tok::Newline:
      return "end of line";
    case Tok::End:
      return "end of input";
    case Tok::String:
      return "string " + quote(text);
    case Tok::Name:
      return name_text(text);
    default:
      return "'" + text + "'";
  }
}

enum class ListKind { Ints, Floats, Strings, Tensors, Graphs };

class Parser {
 public:
  Parser(std::string_view text, std::string_view source) : text_(text), source_(source) {}

  Graph parse() {
    while (peek().kind == Tok::Newline) next();
    expect_keyword("graph");
    graph_.name = expect(Tok::String, "the graph's name as a string").text;
    expect_keyword("opset");
    while (peek().kind == Tok::String) {
      const Token domain = next();
      expect_punct("=");
      const auto version = static_cast<int64_t>(signed_int(next(), 64, "an opset version"));
      if (!graph_.opset.emplace(domain.text, version).second)
        fail(domain, "opset " + quote(domain.text) + " is given twice");
    }
    body();
    while (peek().kind == Tok::Newline) next();
    if (peek().kind != Tok::End)
      fail(peek(), "unexpected " + describe(peek()) + " after the graph's closing '}'");
    verify(graph_);
    return std::move(graph_);
  }

 private:
  struct Decl {
    Token name;
    TensorType type;
  };

  // `{`, the statements of the current graph, `}`.
  void body() {
    expect_punct("{");
    expect_end_of_line();
    while (!at_punct("}")) {
      if (peek().kind == Tok::End)
        fail(peek(), "expected '}' to end the graph, found end of input");
      if (peek().kind != Tok::Newline) statement();
      expect_end_of_line();
    }
    next();
  }

  // A graph attribute after its `graph` keyword: the graphs around it stay readable by name, and
  // it takes the top-level graph's opset, as print() writes neither name nor opset for it.
  GraphPtr nested_graph(const Token& keyword) {
    if (enclosing_.size() >= kMaxNesting)
      fail(keyword, "graphs nested deeper than " + std::to_string(kMaxNesting));
    auto sub = std::make_shared<Graph>();
    sub->opset = graph_.opset;
    std::vector<size_t> lines;
    enclosing_.push_back({current_, lines_});
    current_ = sub.get();
    lines_ = &lines;
    body();
    current_ = enclosing_.back().graph;
    lines_ = enclosing_.back().lines;
    enclosing_.pop_back();
    return sub;
  }

  [[noreturn]] void fail_at(size_t line, size_t column, const std::string& what) const {
    throw InputError(source_ + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " +
                     what);
  }
  [[noreturn]] void fail(const Token& t, const std::string& what) const {
    fail_at(t.line, t.column, what);
  }

  // --- Lexer.

  size_t column() const { return pos_ - line_start_ + 1; }

  void skip_blanks() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\r') {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  // At an opening quote; returns the decoded contents.
  std::string lex_string() {
    const size_t line = line_, start = column();
    ++pos_;
    std::string out;
    while (true) {
      if (pos_ >= text_.size() || text_[pos_] == '\n') fail_at(line, start, "unterminated string");
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size() || text_[pos_] == '\n') fail_at(line, start, "unterminated string");
      const size_t escape = column() - 1;
      const char e = text_[pos_++];
      if (e == '"' || e == '\\') {
        out += e;
      } else if (e == 'n') {
        out += '\n';
      } else if (e == 't') {
        out += '\t';
      } else if (e == 'x') {
        int value = 0;
        for (int i = 0; i < 2; ++i) {
          const char h = pos_ < text_.size() ? text_[pos_] : '\0';
          const int digit = is_digit(h)            ? h - '0'
                            : h >= 'a' && h <= 'f' ? h - 'a' + 10
                            : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                                   : -1;
          if (digit < 0) fail_at(line, escape, "expected two hex digits after \\x");
          value = value * 16 + digit;
          ++pos_;
        }
        out += static_cast<char>(value);
      } else {
        fail_at(line, escape,
                "unknown escape \\" + std::string(1, e) + " (known: \\\" \\\\ \\n \\t \\xHH)");
      }
    }
  }

  size_t ident_end(size_t from) const {
    while (from < text_.size() && is_ident_char(text_[from])) ++from;
    return from;
  }

  Token lex() {
    skip_blanks();
    Token t;
    t.line = line_;
    t.column = column();
    if (pos_ >= text_.size()) return t;
    const char c = text_[pos_];
    const char after = pos_ + 1 < text_.size() ? text_[pos_ + 1] : '\0';
    if (c == '\n') {
      t.kind = Tok::Newline;
      ++pos_;
      ++line_;
      line_start_ = pos_;
    } else if (c == '"') {
      t.kind = Tok::String;
      t.text = lex_string();
    } else if (c == '%') {
      t.kind = Tok::Name;
      ++pos_;
      if (pos_ < text_.size() && text_[pos_] == '"') {
        t.text = lex_string();
        return t;
      }
      size_t end = pos_;
      while (end < text_.size() && is_name_char(text_[end])) ++end;
      while (end > pos_ && text_[end - 1] == ':') --end;
      if (end == pos_) fail(t, "expected a value name after %");
      t.text = text_.substr(pos_, end - pos_);
      pos_ = end;
    } else if (is_ident_start(c)) {
      t.kind = Tok::Ident;
      const size_t end = ident_end(pos_);
      t.text = text_.substr(pos_, end - pos_);
      pos_ = end;
    } else if (is_digit(c) || (c == '-' && is_digit(after))) {
      t.kind = Tok::Number;
      size_t end = pos_ + 1;
      while (end < text_.size()) {
        const char d = text_[end];
        const char before = text_[end - 1];
        if (is_ident_char(d) || ((d == '+' || d == '-') && (before == 'e' || before == 'E')))
          ++end;
        else
          break;
      }
      t.text = text_.substr(pos_, end - pos_);
      pos_ = end;
    } else if (c == '-' && is_ident_start(after)) {
      const size_t end = ident_end(pos_ + 1);
      t.text = text_.substr(pos_, end - pos_);
      if (t.text != "-inf" && t.text != "-nan") fail(t, "unexpected '-'");
      t.kind = Tok::Number;
      pos_ = end;
    } else if (c == ':' && after == ':') {
      t.kind = Tok::Punct;
      t.text = "::";
      pos_ += 2;
    } else if (std::string_view("[](){}<,=:?*@").find(c) != std::string_view::npos) {
      t.kind = Tok::Punct;
      t.text = std::string(1, c);
      ++pos_;
    } else {
      const auto byte = static_cast<unsigned char>(c);
      fail(t, byte >= 0x20 && byte < 0x7f ? "unexpected character '" + std::string(1, c) + "'"
                                          : "unexpected byte " + quote(std::string(1, c)));
    }
    return t;
  }

  const Token& peek() {
    if (!peeked_) peeked_ = lex();
    return *peeked_;
  }

  Token next() {
    Token t = peek();
    peeked_.reset();
    return t;
  }

  bool at_punct(std::string_view p) { return peek().kind == Tok::Punct && peek().text == p; }
  bool at_ident(std::string_view word) { return peek().kind == Tok::Ident && peek().text == word; }
  bool accept_punct(std::string_view p) {
    if (!at_punct(p)) return false;
    next();
    return true;
  }

  Token expect(Tok kind, std::string_view what) {
    Token t = next();
    if (t.kind != kind) fail(t, "expected " + std::string(what) + ", found " + describe(t));
    return t;
  }
  Token expect_punct(std::string_view p) {
    Token t = next();
    if (t.kind != Tok::Punct || t.text != p)
      fail(t, "expected '" + std::string(p) + "', found " + describe(t));
    return t;
  }
  void expect_keyword(std::string_view word) {
    const Token t = next();
    if (t.kind != Tok::Ident || t.text != word)
      fail(t, "expected '" + std::string(word) + "', found " + describe(t));
  }
  // A missing line end at the end of input is left for the caller to report as a missing '}'.
  void expect_end_of_line() {
    if (peek().kind == Tok::End) return;
    if (peek().kind != Tok::Newline)
      fail(peek(), "expected end of line, found " + describe(peek()));
    next();
  }

  // --- Numbers.

  // Sign and magnitude of an integer literal.
  std::pair<bool, uint64_t> integer(const Token& t, std::string_view type_name) {
    if (!is_number(t) || !is_integer_text(t.text))
      fail(t, "expected an integer (" + std::string(type_name) + "), found " + describe(t));
    const bool negative = t.text[0] == '-';
    uint64_t magnitude = 0;
    const char* begin = t.text.data() + (negative ? 1 : 0);
    if (std::from_chars(begin, t.text.data() + t.text.size(), magnitude).ec != std::errc())
      fail(t, t.text + " is out of range for " + std::string(type_name));
    return {negative, magnitude};
  }

  // The two's complement bits of a signed integer literal that fits `bits`.
  uint64_t signed_int(const Token& t, int bits, std::string_view type_name) {
    const auto [negative, magnitude] = integer(t, type_name);
    const uint64_t limit = uint64_t{1} << (bits - 1);
    if (negative ? magnitude > limit : magnitude >= limit)
      fail(t, t.text + " is out of range for " + std::string(type_name));
    return negative ? ~magnitude + 1 : magnitude;
  }

  uint64_t unsigned_int(const Token& t, int bits, std::string_view type_name) {
    const auto [negative, magnitude] = integer(t, type_name);
    if ((negative && magnitude != 0) || (bits < 64 && (magnitude >> bits) != 0))
      fail(t, t.text + " is out of range for " + std::string(type_name));
    return magnitude;
  }

  template <class T>
  T real(const Token& t, std::string_view type_name) {
    if (!is_number(t))
      fail(t, "expected a number (" + std::string(type_name) + "), found " + describe(t));
    const bool negative = t.text[0] == '-';
    const std::string_view magnitude = std::string_view(t.text).substr(negative ? 1 : 0);
    T v = 0;
    if (magnitude == "nan") {
      v = std::numeric_limits<T>::quiet_NaN();
    } else if (magnitude == "inf") {
      v = std::numeric_limits<T>::infinity();
    } else {
      const char* end = magnitude.data() + magnitude.size();
      const auto [ptr, ec] = std::from_chars(magnitude.data(), end, v);
      if (ec == std::errc::result_out_of_range)
        fail(t, t.text + " is out of range for " + std::string(type_name));
      if (ec != std::errc() || ptr != end) fail(t, "malformed number '" + t.text + "'");
    }
    return negative ? -v : v;
  }

  // --- Types and data.

  TensorType type() {
    for (Container c : {Container::Sequence, Container::Optional})
      if (at_ident(container_name(c))) {
        next();
        expect_punct("(");
        TensorType inner = type();
        expect_punct(")");
        inner.containers.insert(inner.containers.begin(), c);
        return inner;
      }
    const Token name = next();
    if (name.kind != Tok::Ident)
      fail(name, "expected an element type such as f32, found " + describe(name));
    const std::optional<ElementType> element = element_from_name(name.text);
    if (!element) fail(name, "unknown element type '" + name.text + "'");
    const Token open = expect_punct("[");
    if (accept_punct("*")) {
      expect_punct("]");
      return {*element, std::nullopt};
    }
    std::vector<int64_t> dims;
    if (!accept_punct("]")) {
      do {
        const Token d = next();
        if (d.kind == Tok::Punct && d.text == "?")
          dims.push_back(kUnknownDim);
        else if (d.kind == Tok::Number && is_integer_text(d.text) && d.text[0] != '-')
          dims.push_back(static_cast<int64_t>(signed_int(d, 64, "a dim")));
        else
          fail(d, "expected a dim (a non-negative integer or ?), found " + describe(d));
      } while (accept_punct(","));
      expect_punct("]");
    }
    std::vector<int64_t> known;
    std::copy_if(dims.begin(), dims.end(), std::back_inserter(known),
                 [](int64_t d) { return d != kUnknownDim; });
    if (!checked_count(known)) fail(open, "the dims multiply to more than 2^63 - 1 elements");
    return {*element, std::move(dims)};
  }

  void element(HostTensor& t) {
    const Token tok = next();
    const std::string_view name = element_name(t.element);
    std::vector<uint8_t>& b = t.bytes;
    switch (t.element) {
      case ElementType::F32:
        return append_le(b, std::bit_cast<uint32_t>(real<float>(tok, name)), 4);
      case ElementType::F64:
        return append_le(b, std::bit_cast<uint64_t>(real<double>(tok, name)), 8);
      case ElementType::F16:
        return append_le(b, narrow(real<double>(tok, name), kF16), 2);
      case ElementType::BF16:
        return append_le(b, narrow(real<double>(tok, name), kBF16), 2);
      case ElementType::I8:
        return append_le(b, signed_int(tok, 8, name), 1);
      case ElementType::I16:
        return append_le(b, signed_int(tok, 16, name), 2);
      case ElementType::I32:
        return append_le(b, signed_int(tok, 32, name), 4);
      case ElementType::I64:
        return append_le(b, signed_int(tok, 64, name), 8);
      case ElementType::U8:
        return append_le(b, unsigned_int(tok, 8, name), 1);
      case ElementType::U16:
        return append_le(b, unsigned_int(tok, 16, name), 2);
      case ElementType::U32:
        return append_le(b, unsigned_int(tok, 32, name), 4);
      case ElementType::U64:
        return append_le(b, unsigned_int(tok, 64, name), 8);
      case ElementType::Bool: {
        const auto [negative, magnitude] = integer(tok, name);
        if (negative || magnitude > 1) fail(tok, "expected 0 or 1 (bool), found " + tok.text);
        return append_le(b, magnitude, 1);
      }
      case ElementType::String:
        if (tok.kind != Tok::String) fail(tok, "expected a string, found " + describe(tok));
        t.strings.push_back(tok.text);
        return;
      case ElementType::C64:
      case ElementType::C128: {
        if (tok.kind != Tok::Punct || tok.text != "(")
          fail(tok, "expected (re, im) (" + std::string(name) + "), found " + describe(tok));
        const bool wide = t.element == ElementType::C128;
        for (int part = 0; part < 2; ++part) {
          if (part) expect_punct(",");
          const Token number = next();
          if (wide)
            append_le(b, std::bit_cast<uint64_t>(real<double>(number, name)), 8);
          else
            append_le(b, std::bit_cast<uint32_t>(real<float>(number, name)), 4);
        }
        expect_punct(")");
        return;
      }
      case ElementType::Undefined:
        return;  // data() takes no elements of this type
    }
  }

  HostTensorPtr data(const TensorType& type) {
    const Token open = next();
    if (open.kind == Tok::Punct && open.text == "<")
      fail(open, "constant data elided; print with a larger max_inline_elements");
    if (open.kind != Tok::Punct || open.text != "[")
      fail(open, "expected '[' and the data, found " + describe(open));
    if (!type.fully_known())
      fail(open, "data needs a type whose element type and every dim are known");
    auto t = std::make_shared<HostTensor>();
    t->element = type.element;
    t->dims = *type.dims;
    int64_t given = 0;
    if (!accept_punct("]")) {
      do {
        element(*t);
        ++given;
      } while (accept_punct(","));
      expect_punct("]");
    }
    const int64_t expected = t->element_count();
    if (given != expected)
      fail(open,
           std::to_string(expected) + " elements expected, " + std::to_string(given) + " given");
    return t;
  }

  // --- Attributes.

  template <class T, class F>
  std::vector<T> elements(F&& one) {
    std::vector<T> items;
    if (accept_punct("]")) return items;
    do items.push_back(one());
    while (accept_punct(","));
    expect_punct("]");
    return items;
  }

  HostTensorPtr tensor_literal() { return data(type()); }

  AttributeValue list(const Token& open, std::optional<ListKind> kind) {
    if (!kind) {
      const Token& first = peek();
      if (first.kind == Tok::Punct && first.text == "]")
        fail(open,
             "an empty list needs its kind: ints [], floats [], strings [], tensors [] or "
             "graphs []");
      if (first.kind == Tok::Ident && first.text == "graph")
        kind = ListKind::Graphs;
      else if (is_number(first))
        kind = is_integer_text(first.text) ? ListKind::Ints : ListKind::Floats;
      else if (first.kind == Tok::String)
        kind = ListKind::Strings;
      else if (first.kind == Tok::Ident && first.text == "tensor")
        kind = ListKind::Tensors;
      else
        fail(first, "expected a list element, found " + describe(first));
    }
    if (kind == ListKind::Ints)
      return elements<int64_t>(
          [&] { return static_cast<int64_t>(signed_int(next(), 64, "ints")); });
    if (kind == ListKind::Floats)
      return elements<float>([&] { return real<float>(next(), "floats"); });
    if (kind == ListKind::Strings)
      return elements<std::string>([&] { return expect(Tok::String, "a string").text; });
    if (kind == ListKind::Tensors)
      return elements<HostTensorPtr>([&] {
        expect_keyword("tensor");
        return tensor_literal();
      });
    return elements<GraphPtr>([&] {
      const Token keyword = next();
      if (keyword.kind != Tok::Ident || keyword.text != "graph")
        fail(keyword, "expected 'graph', found " + describe(keyword));
      return nested_graph(keyword);
    });
  }

  AttributeValue attribute_value() {
    const Token t = next();
    if (is_number(t)) {
      if (is_integer_text(t.text)) return static_cast<int64_t>(signed_int(t, 64, "int"));
      return real<float>(t, "float");
    }
    if (t.kind == Tok::String) return t.text;
    if (t.kind == Tok::Punct && t.text == "[") return list(t, std::nullopt);
    if (t.kind == Tok::Ident) {
      if (t.text == "tensor") return tensor_literal();
      if (t.text == "graph") return nested_graph(t);
      static const std::map<std::string, ListKind, std::less<>> kKinds = {
          {"ints", ListKind::Ints},
          {"floats", ListKind::Floats},
          {"strings", ListKind::Strings},
          {"tensors", ListKind::Tensors},
          {"graphs", ListKind::Graphs}};
      const auto kind = kKinds.find(t.text);
      if (kind != kKinds.end()) return list(expect_punct("["), kind->second);
    }
    fail(t, "expected an attribute value, found " + describe(t));
  }

  void attributes(Node& node) {
    expect_punct("{");
    if (accept_punct("}")) return;
    do {
      const Token key = next();
      if (key.kind != Tok::Ident && key.kind != Tok::String)
        fail(key, "expected an attribute name, found " + describe(key));
      expect_punct("=");
      AttributeValue value = attribute_value();
      if (!node.attributes.emplace(key.text, std::move(value)).second)
        fail(key, "attribute " + ident_text(key.text) + " is given twice");
    } while (accept_punct(","));
    expect_punct("}");
  }

  // --- Statements.

  Decl decl() {
    Decl d{expect(Tok::Name, "a value name such as %x"), {}};
    if (accept_punct(":")) d.type = type();
    return d;
  }

  ValueId define(const Decl& d, HostTensorPtr constant) {
    const ValueId first = current_->find(d.name.text);
    if (first != kNoValue)
      fail(d.name, name_text(d.name.text) + " is defined twice (first on line " +
                       std::to_string(lines_->at(static_cast<size_t>(first))) + ")");
    lines_->push_back(d.name.line);
    return current_->add_value(d.name.text, d.type, std::move(constant));
  }

  ValueId use(const Token& name) {
    if (name.kind != Tok::Name)
      fail(name, "expected a value name such as %x, found " + describe(name));
    const ValueId id = current_->find(name.text);
    if (id != kNoValue) return id;
    // A nested graph reads a name of a graph around it as a value of its own without a type or
    // a producer, as the ONNX frontend loads it.
    for (const Scope& scope : enclosing_)
      if (scope.graph->find(name.text) != kNoValue) {
        lines_->push_back(name.line);
        return current_->add_value(name.text, {});
      }
    fail(name, "undefined value " + name_text(name.text));
  }

  Token operator_name() {
    const Token t = next();
    if ((t.kind != Tok::Ident && t.kind != Tok::String) || t.text.empty())
      fail(t, "expected an operator name, found " + describe(t));
    return t;
  }

  void node() {
    Node node;
    std::vector<std::optional<Decl>> outputs;
    if (accept_punct("(")) {
      expect_punct(")");
    } else {
      do {
        if (at_ident("_")) {
          next();
          outputs.emplace_back();
        } else {
          outputs.emplace_back(decl());
        }
      } while (accept_punct(","));
    }
    expect_punct("=");
    Token op = operator_name();
    if (accept_punct("::")) {
      node.domain = op.text;
      op = operator_name();
    }
    node.op = op.text;
    expect_punct("(");
    if (!accept_punct(")")) {
      do {
        if (at_ident("_")) {
          next();
          node.inputs.push_back(kNoValue);
        } else {
          node.inputs.push_back(use(next()));
        }
      } while (accept_punct(","));
      expect_punct(")");
    }
    if (at_punct("{")) attributes(node);
    if (accept_punct("@")) node.name = expect(Tok::String, "the node's name as a string").text;
    // Outputs are defined only now so that a node cannot read what it writes.
    for (const std::optional<Decl>& out : outputs)
      node.outputs.push_back(out ? define(*out, nullptr) : kNoValue);
    current_->nodes.push_back(std::move(node));
  }

  void statement() {
    const Token& t = peek();
    if (t.kind == Tok::Ident && (t.text == "input" || t.text == "const")) {
      const bool input = next().text == "input";
      const Decl d = decl();
      bool has_data = true;
      if (input)
        has_data = accept_punct("=");
      else
        expect_punct("=");
      HostTensorPtr constant = has_data ? data(d.type) : nullptr;
      const ValueId id = define(d, std::move(constant));
      if (input) current_->inputs.push_back(id);
    } else if (t.kind == Tok::Ident && t.text == "output") {
      next();
      current_->outputs.push_back(use(next()));
    } else if (t.kind == Tok::Name || (t.kind == Tok::Ident && t.text == "_") ||
               (t.kind == Tok::Punct && t.text == "(")) {
      node();
    } else {
      fail(t, "expected a statement (input, const, a node, output or '}'), found " + describe(t));
    }
  }

  std::string_view text_;
  std::string source_;
  size_t pos_ = 0, line_ = 1, line_start_ = 0;
  std::optional<Token> peeked_;
  Graph graph_;
  std::vector<size_t> defined_on_line_;  // by value id of graph_
  // The graph whose statements are being read (graph_ or a nested graph) and its lines by value
  // id; the graphs around it, outermost first.
  struct Scope {
    Graph* graph;
    std::vector<size_t>* lines;
  };
  Graph* current_ = &graph_;
  std::vector<size_t>* lines_ = &defined_on_line_;
  std::vector<Scope> enclosing_;
};

}  // namespace

std::string print(const Graph& graph, const PrintOptions& options) {
  std::string out = "graph " + quote(graph.name) + " opset";
  for (const auto& [domain, version] : graph.opset)
    out += " " + quote(domain) + "=" + std::to_string(version);
  out += " {\n";
  print_body(graph, options, 2, out);
  return out + "}\n";
}

Graph parse(std::string_view text, std::string_view source) { return Parser(text, source).parse(); }

}  // namespace seedchip::compiler::ir
