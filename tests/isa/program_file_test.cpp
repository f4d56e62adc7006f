#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "arch/error.h"
#include "isa/isa.h"

namespace seedchip::isa {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const char* const kSample =
    ".core all\n"
    "  li x1, 64\n"
    "top: addi x1, x1, -1\n"
    "  bne x1, x0, top\n"
    ".core 1,3\n"
    "  dma.load x1, x2, x3, x4, x5, -, s0\n"
    "  halt\n";

std::string error_of(const std::vector<uint8_t>& bytes) {
  try {
    deserialize(bytes, "prog.bin");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

void put_u32_at(std::vector<uint8_t>& bytes, size_t offset, uint32_t value) {
  for (int b = 0; b < 4; ++b) bytes[offset + b] = static_cast<uint8_t>(value >> (8 * b));
}

TEST(ProgramFile, LayoutIsMagicVersionThenSections) {
  std::vector<uint8_t> bytes = serialize(assemble(kSample, "t.s"));
  // magic 8, version 4, count 4; section 0: 4 + 0 + 4 + 3 * 16; section 1: 4 + 8 + 4 + 2 * 16.
  ASSERT_EQ(bytes.size(), 16u + 56u + 48u);
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 8), std::string("SCPROG\0\0", 8));
  EXPECT_EQ(bytes[8], kProgramFormatVersion);
  EXPECT_EQ(bytes[12], 2);
  EXPECT_EQ(bytes[72], 2);  // core count of section 1
  EXPECT_EQ(bytes[76], 1);
  EXPECT_EQ(bytes[80], 3);
  EXPECT_EQ(bytes[84], 2);  // instruction count of section 1
}

TEST(ProgramFile, EveryTruncationIsAnErrorNamingTheOffset) {
  std::vector<uint8_t> bytes = serialize(assemble(kSample, "t.s"));
  for (size_t length = 0; length < bytes.size(); ++length) {
    std::vector<uint8_t> truncated(bytes.begin(), bytes.begin() + length);
    EXPECT_THAT(error_of(truncated), AllOf(StartsWith("prog.bin: byte "), HasSubstr("expected")))
        << "length " << length;
  }
  std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + 14);
  EXPECT_EQ(error_of(cut),
            "prog.bin: byte 12: file ends after 2 of 4 bytes; expected a u32 section count");
}

TEST(ProgramFile, BadMagic) {
  std::vector<uint8_t> bytes = serialize(assemble(kSample, "t.s"));
  bytes[0] = 'X';
  EXPECT_THAT(error_of(bytes), AllOf(StartsWith("prog.bin: byte 0: bad magic"),
                                     HasSubstr("expected a SeedChip program file")));
}

TEST(ProgramFile, VersionMismatchSaysWhichWasFoundAndWhichIsSupported) {
  std::vector<uint8_t> bytes = serialize(assemble(kSample, "t.s"));
  put_u32_at(bytes, 8, 7);
  EXPECT_EQ(error_of(bytes),
            "prog.bin: byte 8: program format version 7; expected version 1, the only one this "
            "build reads");
}

TEST(ProgramFile, HugeCountsAreRejectedBeforeAllocating) {
  std::vector<uint8_t> bytes = serialize(assemble(kSample, "t.s"));
  put_u32_at(bytes, 12, 0xffffffff);
  EXPECT_THAT(error_of(bytes), HasSubstr("4294967295 items of 8 bytes announced"));
  bytes = serialize(assemble(kSample, "t.s"));
  put_u32_at(bytes, 84, 0x10000000);
  EXPECT_THAT(error_of(bytes), HasSubstr("section 1: 268435456 16-byte instructions"));
}

TEST(ProgramFile, GarbledWordsNameTheInstruction) {
  std::vector<uint8_t> bytes = serialize(assemble(kSample, "t.s"));
  bytes[88] = 0xee;  // opcode of section 1, instruction 0
  EXPECT_THAT(error_of(bytes),
              StartsWith("prog.bin: byte 88 (section 1, instruction 0): unknown opcode 238"));
}

TEST(ProgramFile, BadCoreListsAndBranchTargetsAreRejected) {
  std::vector<uint8_t> bytes = serialize(assemble(kSample, "t.s"));
  put_u32_at(bytes, 80, 1);
  EXPECT_EQ(error_of(bytes),
            "prog.bin: byte 80: section 1: core 1 listed twice; expected each core once");
  put_u32_at(bytes, 80, 0xffffffff);
  EXPECT_THAT(error_of(bytes), HasSubstr("section 1: core -1 out of range; expected 0..65535"));

  Program far{{Section{{}, {Instruction{Opcode::JMP, {0}}}}}};
  bytes = serialize(far);
  bytes[bytes.size() - 16 + 1] = 2;  // target field of the jmp
  EXPECT_THAT(error_of(bytes),
              HasSubstr("branch target 2 lies outside the section; expected 0..1"));
}

TEST(ProgramFile, TrailingBytesAreAnError) {
  std::vector<uint8_t> bytes = serialize(assemble(kSample, "t.s"));
  bytes.push_back(0);
  EXPECT_THAT(error_of(bytes), HasSubstr("1 bytes after the last section; expected the end"));
}

class LoadProgramFile : public ::testing::Test {
 protected:
  std::filesystem::path write(const std::string& name, const std::string& contents) {
    std::filesystem::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << contents;
    return path;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_ = [] {
    auto dir = std::filesystem::temp_directory_path() /
               ("seedchip_isa_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir;
  }();
};

TEST_F(LoadProgramFile, ReadsTextAndBinaryToTheSameProgram) {
  Program expected = assemble(kSample, "t.s");
  std::vector<uint8_t> bytes = serialize(expected);
  EXPECT_EQ(load_program_file(write("p.s", kSample)), expected);
  EXPECT_EQ(load_program_file(write("p.bin", std::string(bytes.begin(), bytes.end()))), expected);
}

TEST_F(LoadProgramFile, ErrorsNameThePath) {
  std::string missing = (dir_ / "missing.s").string();
  EXPECT_THAT([&] { load_program_file(missing); },
              ::testing::ThrowsMessage<InputError>(StartsWith(missing + ": cannot open")));
  std::string bad = write("bad.s", "nop\nnop x1\n").string();
  EXPECT_THAT([&] { load_program_file(bad); },
              ::testing::ThrowsMessage<InputError>(StartsWith(bad + ":2: 'nop' takes 0")));
  EXPECT_THAT([&] { load_program_file(dir_.string()); },
              ::testing::ThrowsMessage<InputError>(HasSubstr("is a directory")));
}

}  // namespace
}  // namespace seedchip::isa
