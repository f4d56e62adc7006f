// Assembly text <-> Program. The assembler reports the first mistake as
// "<file>:<line>: <what>; expected <what>"; the disassembler writes text that assembles back to
// the identical Program, including the exact bits of every f32 immediate.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>

#include "arch/error.h"
#include "isa/isa.h"
#include "isa/isa_internal.h"

namespace seedchip::isa {
namespace {

constexpr uint32_t kQuietNanBits = 0x7fc00000;
constexpr uint32_t kSignBit = 0x80000000;

std::string_view trim(std::string_view s) {
  size_t begin = s.find_first_not_of(" \t\r\v\f");
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(" \t\r\v\f");
  return s.substr(begin, end - begin + 1);
}

bool is_identifier_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_identifier_char(char c) { return is_identifier_start(c) || (c >= '0' && c <= '9'); }

bool is_identifier(std::string_view s) {
  return !s.empty() && is_identifier_start(s[0]) &&
         std::all_of(s.begin(), s.end(), is_identifier_char);
}

// Digits only, no sign: register, semaphore and core numbers.
std::optional<int64_t> parse_decimal(std::string_view s) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || s[0] == '-' || end != s.data() + s.size()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) return std::numeric_limits<int64_t>::max();
  if (ec != std::errc()) return std::nullopt;
  return value;
}

// Decimal or 0x hex, optionally negative. A magnitude beyond int64 saturates, so that the caller's
// range check rejects it with the usual message.
std::optional<int64_t> parse_integer(std::string_view s) {
  bool negative = !s.empty() && s[0] == '-';
  if (negative) s.remove_prefix(1);
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  }
  uint64_t magnitude = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), magnitude, base);
  if (s.empty() || end != s.data() + s.size()) return std::nullopt;
  if (ec == std::errc::result_out_of_range)
    magnitude = std::numeric_limits<uint64_t>::max();
  else if (ec != std::errc())
    return std::nullopt;
  constexpr uint64_t kMaxMagnitude = uint64_t{1} << 63;
  if (negative)
    return magnitude >= kMaxMagnitude ? std::numeric_limits<int64_t>::min()
                                      : -static_cast<int64_t>(magnitude);
  return magnitude >= kMaxMagnitude ? std::numeric_limits<int64_t>::max()
                                    : static_cast<int64_t>(magnitude);
}

bool is_nan_bits(uint32_t bits) { return (bits & 0x7f800000) == 0x7f800000 && (bits & 0x7fffff); }

enum class F32Parse { OK, NOT_A_NUMBER, OUT_OF_RANGE };

// Decimal or hex float (0x1.8p3), inf, nan, or nan(0xBITS) naming a NaN's exact bits.
F32Parse parse_f32(std::string_view s, uint32_t& bits) {
  if (s == "nan" || s == "-nan") {
    bits = kQuietNanBits | (s[0] == '-' ? kSignBit : 0);
    return F32Parse::OK;
  }
  if (s.starts_with("nan(") && s.ends_with(")")) {
    std::optional<int64_t> payload = parse_integer(s.substr(4, s.size() - 5));
    if (!payload || *payload < 0 || *payload > 0xffffffff ||
        !is_nan_bits(static_cast<uint32_t>(*payload)))
      return F32Parse::NOT_A_NUMBER;
    bits = static_cast<uint32_t>(*payload);
    return F32Parse::OK;
  }
  bool negative = !s.empty() && s[0] == '-';
  std::string_view body = negative ? s.substr(1) : s;
  std::chars_format format = std::chars_format::general;
  if (body.size() > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) {
    format = std::chars_format::hex;
    body.remove_prefix(2);
  }
  // from_chars would accept its own spelling of NaN, whose payload the assembler does not control.
  if (body.empty() || body[0] == '-' || body[0] == 'n' || body[0] == 'N')
    return F32Parse::NOT_A_NUMBER;
  float value = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), value, format);
  if (end != body.data() + body.size()) return F32Parse::NOT_A_NUMBER;
  if (ec == std::errc::result_out_of_range) return F32Parse::OUT_OF_RANGE;
  if (ec != std::errc()) return F32Parse::NOT_A_NUMBER;
  bits = std::bit_cast<uint32_t>(value) ^ (negative ? kSignBit : 0);
  return F32Parse::OK;
}

std::string format_f32(uint32_t bits) {
  if (is_nan_bits(bits)) return fmt::format("nan(0x{:08x})", bits);
  char buffer[64];
  // The shortest decimal that reads back as the same float.
  char* end = std::to_chars(buffer, buffer + sizeof buffer, std::bit_cast<float>(bits)).ptr;
  return std::string(buffer, end);
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string closest_mnemonic(std::string_view word) {
  const InstructionInfo* best = nullptr;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (const InstructionInfo& i : all_instructions()) {
    size_t distance = edit_distance(word, i.mnemonic);
    if (distance < best_distance) {
      best_distance = distance;
      best = &i;
    }
  }
  return best->mnemonic;
}

std::string usage(const InstructionInfo& i) {
  std::string text = i.mnemonic;
  for (size_t k = 0; k < i.operands.size(); ++k)
    text += fmt::format("{}{}:{}", k == 0 ? " " : ", ", i.operands[k].name,
                        operand_kind_name(i.operands[k].kind));
  return text;
}

class Assembler {
 public:
  explicit Assembler(const std::string& filename) : filename_(filename) {}

  Program run(std::string_view text) {
    int line_number = 0;
    while (!text.empty()) {
      size_t newline = text.find('\n');
      std::string_view line = text.substr(0, newline);
      text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
      line_ = ++line_number;
      assemble_line(line);
    }
    finish_section();
    return std::move(program_);
  }

 private:
  struct LabelUse {
    size_t instruction;
    size_t operand;
    std::string name;
    int line;
  };
  struct LabelDefinition {
    size_t instruction;
    int line;
  };

  [[noreturn]] void fail(const std::string& what, const std::string& expected) const {
    throw InputError(fmt::format("{}:{}: {}; expected {}", filename_, line_, what, expected));
  }

  void assemble_line(std::string_view line) {
    line = trim(line.substr(0, line.find('#')));
    if (line.starts_with('.')) return directive(line);
    while (true) {
      size_t length = 0;
      while (length < line.size() && is_identifier_char(line[length])) ++length;
      if (length == 0 || length >= line.size() || line[length] != ':') break;
      define_label(line.substr(0, length));
      line = trim(line.substr(length + 1));
    }
    if (!line.empty()) instruction(line);
  }

  void directive(std::string_view line) {
    size_t space = line.find_first_of(" \t");
    std::string_view name = line.substr(0, space);
    if (name != ".core") fail(fmt::format("unknown directive '{}'", name), ".core");
    std::string_view list =
        space == std::string_view::npos ? std::string_view{} : trim(line.substr(space));
    finish_section();
    program_.sections.emplace_back();
    if (list == "all") return;
    if (list.empty()) fail("'.core' without cores", "`.core all`, `.core 3` or `.core 0,2,5-7`");
    std::vector<int>& cores = program_.sections.back().cores;
    std::set<int> seen;
    while (true) {
      size_t comma = list.find(',');
      std::string_view item = trim(list.substr(0, comma));
      size_t dash = item.find('-');
      int low = core_index(item.substr(0, dash), item);
      int high = dash == std::string_view::npos ? low : core_index(item.substr(dash + 1), item);
      if (high < low)
        fail(fmt::format("core range '{}' is descending", item), "low-high with low <= high");
      for (int core = low; core <= high; ++core) {
        if (!seen.insert(core).second)
          fail(fmt::format("core {} listed twice in '.core'", core), "each core once");
        cores.push_back(core);
      }
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }

  int core_index(std::string_view text, std::string_view item) const {
    std::optional<int64_t> value = parse_decimal(trim(text));
    if (!value)
      fail(fmt::format("'{}' is not a core number or range", item),
           "`all` or a comma-separated list of cores and ranges such as 0,2,5-7");
    if (*value > kMaxCoreIndex)
      fail(fmt::format("core {} out of range", trim(text)), fmt::format("0..{}", kMaxCoreIndex));
    return static_cast<int>(*value);
  }

  Section& section() {
    if (program_.sections.empty()) program_.sections.emplace_back();
    return program_.sections.back();
  }

  void define_label(std::string_view name) {
    if (!is_identifier(name))
      fail(fmt::format("'{}' is not a label name", name),
           "a letter or _ followed by letters, digits or _");
    auto [it, inserted] =
        labels_.emplace(std::string(name), LabelDefinition{section().code.size(), line_});
    if (!inserted)
      fail(fmt::format("label '{}' already defined at line {}", name, it->second.line),
           "each label defined once per section");
  }

  void instruction(std::string_view line) {
    size_t space = line.find_first_of(" \t");
    std::string_view mnemonic = line.substr(0, space);
    std::optional<Opcode> opcode = opcode_from_mnemonic(mnemonic);
    if (!opcode)
      fail(fmt::format("unknown mnemonic '{}' (did you mean '{}'?)", mnemonic,
                       closest_mnemonic(mnemonic)),
           "an instruction mnemonic listed in docs/isa.md");
    const InstructionInfo& i = info(*opcode);
    std::vector<std::string_view> texts;
    std::string_view rest =
        space == std::string_view::npos ? std::string_view{} : trim(line.substr(space));
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      texts.push_back(trim(rest.substr(0, comma)));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
      if (rest.empty()) texts.push_back({});
    }
    if (texts.size() != i.operands.size())
      fail(fmt::format("'{}' takes {} operands, got {}", i.mnemonic, i.operands.size(),
                       texts.size()),
           "`" + usage(i) + "`");
    Instruction inst;
    inst.op = *opcode;
    for (size_t k = 0; k < texts.size(); ++k)
      inst.operands[k] = operand(i, k, texts[k], section().code.size());
    section().code.push_back(inst);
  }

  int64_t operand(const InstructionInfo& i, size_t k, std::string_view text, size_t index) {
    const OperandInfo& spec = i.operands[k];
    std::string where = fmt::format("'{}' operand {} ({}:{})", i.mnemonic, k + 1, spec.name,
                                    operand_kind_name(spec.kind));
    std::string expected = operand_value_range(spec.kind);
    if (text.empty()) fail(where + " is empty", expected);
    switch (spec.kind) {
      case OperandKind::REG:
      case OperandKind::SEM: {
        char prefix = spec.kind == OperandKind::REG ? 'x' : 's';
        if (spec.kind == OperandKind::SEM && text == "-") return kNoSemaphore;
        std::optional<int64_t> number =
            text[0] == prefix ? parse_decimal(text.substr(1)) : std::nullopt;
        if (!number)
          fail(fmt::format("{} '{}' is not a {}", where, text,
                           spec.kind == OperandKind::REG ? "register" : "semaphore"),
               expected);
        if (!operand_value_valid(spec.kind, *number))
          fail(fmt::format("{} '{}' out of range", where, text), expected);
        return *number;
      }
      case OperandKind::IMM16:
      case OperandKind::IMM32:
      case OperandKind::IMM48:
      case OperandKind::FLAG: {
        std::optional<int64_t> value = parse_integer(text);
        if (!value) fail(fmt::format("{} '{}' is not an integer", where, text), expected);
        if (!operand_value_valid(spec.kind, *value))
          fail(
              fmt::format("{} '{}' out of range for {}", where, text, operand_kind_name(spec.kind)),
              expected);
        return *value;
      }
      case OperandKind::F32: {
        uint32_t bits = 0;
        switch (parse_f32(text, bits)) {
          case F32Parse::OK:
            return bits;
          case F32Parse::OUT_OF_RANGE:
            fail(fmt::format("{} '{}' out of range for f32", where, text),
                 "a finite FP32 value, inf or nan");
          case F32Parse::NOT_A_NUMBER:
            fail(fmt::format("{} '{}' is not a number", where, text),
                 "a decimal or hex float (1.5, -2e-3, 0x1.8p3), inf, nan or nan(0xBITS)");
        }
        return 0;
      }
      case OperandKind::LABEL:
        if (!is_identifier(text))
          fail(fmt::format("{} '{}' is not a label name", where, text),
               "a label defined in this section");
        label_uses_.push_back({index, k, std::string(text), line_});
        return 0;
      case OperandKind::DTYPE: {
        std::optional<DataType> type = dtype_from_name(text);
        if (!type) fail(fmt::format("{} '{}' is not a data type", where, text), expected);
        return static_cast<int64_t>(*type);
      }
    }
    return 0;
  }

  void finish_section() {
    for (const LabelUse& use : label_uses_) {
      auto it = labels_.find(use.name);
      if (it == labels_.end()) {
        line_ = use.line;
        fail(fmt::format("undefined label '{}'", use.name),
             "a label defined in the same section (sections start at .core)");
      }
      program_.sections.back().code[use.instruction].operands[use.operand] =
          static_cast<int64_t>(it->second.instruction);
    }
    label_uses_.clear();
    labels_.clear();
  }

  const std::string& filename_;
  int line_ = 0;
  Program program_;
  std::map<std::string, LabelDefinition, std::less<>> labels_;
  std::vector<LabelUse> label_uses_;
};

std::string core_list(const std::vector<int>& cores) {
  if (cores.empty()) return "all";
  std::string text;
  for (size_t begin = 0; begin < cores.size();) {
    size_t end = begin + 1;
    while (end < cores.size() && cores[end] == cores[end - 1] + 1) ++end;
    if (!text.empty()) text += ',';
    if (end - begin >= 3) {
      text += fmt::format("{}-{}", cores[begin], cores[end - 1]);
    } else {
      end = begin + 1;
      text += std::to_string(cores[begin]);
    }
    begin = end;
  }
  return text;
}

std::string operand_text(OperandKind kind, int64_t value) {
  switch (kind) {
    case OperandKind::REG:
      return fmt::format("x{}", value);
    case OperandKind::SEM:
      return value == kNoSemaphore ? "-" : fmt::format("s{}", value);
    case OperandKind::F32:
      return format_f32(static_cast<uint32_t>(value));
    case OperandKind::LABEL:
      return fmt::format("L{}", value);
    case OperandKind::DTYPE:
      return std::string(dtype_name(static_cast<DataType>(value)));
    case OperandKind::IMM16:
    case OperandKind::IMM32:
    case OperandKind::IMM48:
    case OperandKind::FLAG:
      return std::to_string(value);
  }
  return "?";
}

}  // namespace

Program assemble(std::string_view text, const std::string& filename) {
  return Assembler(filename).run(text);
}

std::string disassemble(const Program& program) {
  std::string text;
  for (const Section& section : program.sections) {
    if (!text.empty()) text += '\n';
    text += ".core " + core_list(section.cores) + '\n';
    std::set<int64_t> targets;
    for (const Instruction& inst : section.code) {
      const InstructionInfo& i = info(inst.op);
      for (size_t k = 0; k < i.operands.size(); ++k)
        if (i.operands[k].kind == OperandKind::LABEL) targets.insert(inst.operands[k]);
    }
    if (!targets.empty() &&
        (*targets.begin() < 0 || *targets.rbegin() > static_cast<int64_t>(section.code.size())))
      throw std::invalid_argument("disassemble: a branch target lies outside its section");
    for (size_t index = 0; index <= section.code.size(); ++index) {
      if (targets.contains(static_cast<int64_t>(index))) text += fmt::format("L{}:\n", index);
      if (index == section.code.size()) break;
      const Instruction& inst = section.code[index];
      const InstructionInfo& i = info(inst.op);
      text += "  " + i.mnemonic;
      for (size_t k = 0; k < i.operands.size(); ++k)
        text += (k == 0 ? " " : ", ") + operand_text(i.operands[k].kind, inst.operands[k]);
      text += '\n';
    }
  }
  return text;
}

}  // namespace seedchip::isa
