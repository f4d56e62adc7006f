// The binary program file: magic, version, then per section its cores and instruction words, all
// little-endian. Every count is checked against the bytes that remain before anything is read.
#include <fmt/format.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "arch/error.h"
#include "isa/isa.h"
#include "isa/isa_internal.h"

namespace seedchip::isa {
namespace {

constexpr char kMagic[8] = {'S', 'C', 'P', 'R', 'O', 'G', '\0', '\0'};

void put_u32(std::vector<uint8_t>& out, uint32_t value) {
  for (int b = 0; b < 4; ++b) out.push_back(static_cast<uint8_t>(value >> (8 * b)));
}

class Reader {
 public:
  Reader(const std::vector<uint8_t>& bytes, const std::string& filename)
      : bytes_(bytes), filename_(filename) {}

  size_t offset() const { return offset_; }
  size_t remaining() const { return bytes_.size() - offset_; }

  [[noreturn]] void fail(size_t at, const std::string& what, const std::string& expected) const {
    throw InputError(fmt::format("{}: byte {}: {}; expected {}", filename_, at, what, expected));
  }

  void need(size_t count, const std::string& what) const {
    if (remaining() < count)
      fail(offset_, fmt::format("file ends after {} of {} bytes", remaining(), count), what);
  }

  uint32_t u32(const std::string& what) {
    need(4, what);
    uint32_t value = 0;
    for (int b = 0; b < 4; ++b) value |= static_cast<uint32_t>(bytes_[offset_ + b]) << (8 * b);
    offset_ += 4;
    return value;
  }

  // Checks that `count` items of `item_bytes` each can still follow, before anything is allocated.
  void need_items(uint32_t count, size_t item_bytes, const std::string& what) const {
    if (remaining() / item_bytes < count)
      fail(offset_,
           fmt::format("{} items of {} bytes announced but only {} bytes left", count, item_bytes,
                       remaining()),
           what);
  }

  const uint8_t* take(size_t count) {
    const uint8_t* at = bytes_.data() + offset_;
    offset_ += count;
    return at;
  }

 private:
  const std::vector<uint8_t>& bytes_;
  const std::string& filename_;
  size_t offset_ = 0;
};

}  // namespace

std::vector<uint8_t> serialize(const Program& program) {
  std::vector<uint8_t> out(std::begin(kMagic), std::end(kMagic));
  put_u32(out, kProgramFormatVersion);
  put_u32(out, static_cast<uint32_t>(program.sections.size()));
  for (const Section& section : program.sections) {
    put_u32(out, static_cast<uint32_t>(section.cores.size()));
    for (int core : section.cores) put_u32(out, static_cast<uint32_t>(core));
    put_u32(out, static_cast<uint32_t>(section.code.size()));
    for (const Instruction& inst : section.code) {
      std::array<uint8_t, kInstructionBytes> word = encode(inst);
      out.insert(out.end(), word.begin(), word.end());
    }
  }
  return out;
}

Program deserialize(const std::vector<uint8_t>& bytes, const std::string& filename) {
  Reader in(bytes, filename);
  in.need(sizeof kMagic, "the 8-byte magic \"SCPROG\\0\\0\"");
  if (std::memcmp(in.take(sizeof kMagic), kMagic, sizeof kMagic) != 0)
    in.fail(0, "bad magic", "a SeedChip program file starting with \"SCPROG\\0\\0\"");
  size_t version_at = in.offset();
  uint32_t version = in.u32("a u32 format version");
  if (version != kProgramFormatVersion)
    in.fail(version_at, fmt::format("program format version {}", version),
            fmt::format("version {}, the only one this build reads", kProgramFormatVersion));
  Program program;
  uint32_t sections = in.u32("a u32 section count");
  in.need_items(sections, 8, "a core count and an instruction count per section");
  for (uint32_t s = 0; s < sections; ++s) {
    Section& section = program.sections.emplace_back();
    uint32_t cores = in.u32(fmt::format("section {}: a u32 core count", s));
    in.need_items(cores, 4, fmt::format("section {}: {} i32 core indices", s, cores));
    std::set<int> seen;
    for (uint32_t c = 0; c < cores; ++c) {
      size_t at = in.offset();
      int32_t core = static_cast<int32_t>(in.u32("an i32 core index"));
      if (core < 0 || core > kMaxCoreIndex)
        in.fail(at, fmt::format("section {}: core {} out of range", s, core),
                fmt::format("0..{}", kMaxCoreIndex));
      if (!seen.insert(core).second)
        in.fail(at, fmt::format("section {}: core {} listed twice", s, core), "each core once");
      section.cores.push_back(core);
    }
    uint32_t count = in.u32(fmt::format("section {}: a u32 instruction count", s));
    in.need_items(count, kInstructionBytes,
                  fmt::format("section {}: {} 16-byte instructions", s, count));
    section.code.reserve(count);
    for (uint32_t k = 0; k < count; ++k) {
      size_t at = in.offset();
      std::string where =
          fmt::format("{}: byte {} (section {}, instruction {})", filename, at, s, k);
      section.code.push_back(decode(in.take(kInstructionBytes), where));
    }
    for (size_t k = 0; k < section.code.size(); ++k) {
      const Instruction& inst = section.code[k];
      const InstructionInfo& i = info(inst.op);
      for (size_t o = 0; o < i.operands.size(); ++o)
        if (i.operands[o].kind == OperandKind::LABEL && inst.operands[o] > count)
          throw InputError(fmt::format(
              "{}: section {}, instruction {} ('{}'): branch target {} lies outside the section; "
              "expected 0..{}",
              filename, s, k, i.mnemonic, inst.operands[o], count));
    }
  }
  if (in.remaining() != 0)
    in.fail(in.offset(), fmt::format("{} bytes after the last section", in.remaining()),
            "the end of the file");
  return program;
}

Program load_program_file(const std::string& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error))
    throw InputError(fmt::format("{}: is a directory; expected a program file", path));
  std::ifstream file(path, std::ios::binary);
  if (!file)
    throw InputError(fmt::format("{}: cannot open; expected a readable program file", path));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)),
                             std::istreambuf_iterator<char>());
  if (file.bad())
    throw InputError(fmt::format("{}: read error; expected a readable program file", path));
  if (bytes.size() >= sizeof kMagic && std::memcmp(bytes.data(), kMagic, sizeof kMagic) == 0)
    return deserialize(bytes, path);
  return assemble(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                  path);
}

}  // namespace seedchip::isa
