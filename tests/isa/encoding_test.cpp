#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "arch/error.h"
#include "isa/isa.h"
#include "tests/isa/random_program.h"

namespace seedchip::isa {
namespace {

using ::testing::HasSubstr;

Instruction make(Opcode op, std::initializer_list<int64_t> operands) {
  Instruction inst;
  inst.op = op;
  std::copy(operands.begin(), operands.end(), inst.operands.begin());
  return inst;
}

std::string decode_error(const std::array<uint8_t, kInstructionBytes>& word) {
  try {
    decode(word.data(), "prog.bin: byte 24");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Encoding, EveryOpcodeRoundTripsWithRandomAndExtremeOperands) {
  std::mt19937_64 rng(7);
  for (const InstructionInfo& i : all_instructions()) {
    for (int trial = 0; trial < 200; ++trial) {
      Instruction inst = testing::random_instruction(i.opcode, 1000, rng);
      auto word = encode(inst);
      EXPECT_EQ(decode(word.data(), "test"), inst) << i.mnemonic << " trial " << trial;
    }
  }
}

TEST(Encoding, LayoutPutsOpcodeInTheLowByteAndOperandsUpwardInTableOrder) {
  // li x3, -1: opcode, then rd in bits 8-12, then imm48 in bits 13-60.
  auto word = encode(make(Opcode::LI, {3, -1}));
  unsigned __int128 bits = 0;
  for (size_t b = 0; b < kInstructionBytes; ++b)
    bits |= static_cast<unsigned __int128>(word[b]) << (8 * b);
  unsigned __int128 expected = static_cast<unsigned>(Opcode::LI);
  expected |= static_cast<unsigned __int128>(3) << 8;
  expected |= static_cast<unsigned __int128>((uint64_t{1} << 48) - 1) << 13;
  EXPECT_TRUE(bits == expected);
}

TEST(Encoding, NoSemaphoreIsEncodedAs63) {
  auto word = encode(make(Opcode::SEM_SIGNAL, {kNoSemaphore, 0}));
  EXPECT_EQ(word[1] & 0x3f, 63);
  EXPECT_EQ(decode(word.data(), "test").operands[0], kNoSemaphore);
}

TEST(Encoding, EncodeRejectsOutOfRangeOperandsAsProgrammingErrors) {
  EXPECT_THROW(encode(make(Opcode::ADD, {32, 0, 0})), std::invalid_argument);
  EXPECT_THROW(encode(make(Opcode::ADD, {-1, 0, 0})), std::invalid_argument);
  EXPECT_THROW(encode(make(Opcode::SEM_SIGNAL, {32, 0})), std::invalid_argument);
  EXPECT_THROW(encode(make(Opcode::SEM_SIGNAL, {-2, 0})), std::invalid_argument);
  EXPECT_THROW(encode(make(Opcode::SEM_SIGNAL, {0, 32768})), std::invalid_argument);
  EXPECT_THROW(encode(make(Opcode::SEM_SIGNAL, {0, -32769})), std::invalid_argument);
  EXPECT_NO_THROW(encode(make(Opcode::SEM_SIGNAL, {0, -32768})));
  EXPECT_THROW(encode(make(Opcode::ADDI, {0, 0, int64_t{1} << 31})), std::invalid_argument);
  EXPECT_THROW(encode(make(Opcode::LI, {0, int64_t{1} << 47})), std::invalid_argument);
  EXPECT_NO_THROW(encode(make(Opcode::LI, {0, -(int64_t{1} << 47)})));
  EXPECT_THROW(encode(make(Opcode::VPU_ADDS, {0, 0, 0, int64_t{1} << 32, 0, 0, 0})),
               std::invalid_argument);
  EXPECT_THROW(encode(make(Opcode::JMP, {-1})), std::invalid_argument);
  EXPECT_THROW(encode(make(Opcode::VPU_EXP, {0, 0, 0, 7, 0, 0})), std::invalid_argument);
  EXPECT_THROW(encode(make(Opcode::MXU_MATMUL, {0, 0, 0, 0, 0, 2, 0, 0, 0, 0})),
               std::invalid_argument);
}

TEST(Encoding, EncodeRejectsValuesInOperandSlotsTheInstructionDoesNotHave) {
  EXPECT_THROW(encode(make(Opcode::NOP, {1})), std::invalid_argument);
  EXPECT_THROW(encode(make(Opcode::ADD, {1, 2, 3, 4})), std::invalid_argument);
}

TEST(Encoding, EncodeRejectsAnOpcodeOutsideTheTable) {
  EXPECT_THROW(encode(make(Opcode::kCount, {})), std::invalid_argument);
}

TEST(Decoding, RejectsUnknownOpcodeNamingWhere) {
  std::array<uint8_t, kInstructionBytes> word{};
  word[0] = static_cast<uint8_t>(Opcode::kCount);
  std::string error = decode_error(word);
  EXPECT_THAT(error, HasSubstr("prog.bin: byte 24: unknown opcode"));
  EXPECT_THAT(error, HasSubstr("expected 0.."));
  word[0] = 0xff;
  EXPECT_THAT(decode_error(word), HasSubstr("unknown opcode 255"));
}

TEST(Decoding, RejectsDataTypeAbove6) {
  auto word = encode(make(Opcode::VPU_EXP, {1, 2, 3, 6, 0, 0}));
  EXPECT_NO_THROW(decode(word.data(), "test"));
  // d, a, n (3 x 5 bits) start at bit 8, so the dtype field is bits 23-25.
  word[2] |= 0x80;
  word[3] |= 0x03;
  std::string error = decode_error(word);
  EXPECT_THAT(error, HasSubstr("'vpu.exp' operand type has field value 7"));
  EXPECT_THAT(error, HasSubstr("expected fp32, bf16"));
}

TEST(Decoding, RejectsSemaphoreFieldsBetween32And62) {
  auto word = encode(make(Opcode::SEM_WAIT, {0, 1}));
  word[1] = 40;
  EXPECT_THAT(decode_error(word), HasSubstr("operand s has field value 40; expected s0..s31"));
  word[1] = 63;
  EXPECT_EQ(decode(word.data(), "test").operands[0], kNoSemaphore);
}

TEST(Decoding, RejectsNonZeroPaddingAnywhereAboveTheLastOperand) {
  for (const InstructionInfo& i : all_instructions()) {
    auto word = encode(make(i.opcode, {}));
    word[kInstructionBytes - 1] = 0x80;
    EXPECT_THAT(decode_error(word), HasSubstr("non-zero bits above bit")) << i.mnemonic;
  }
  auto nop = encode(make(Opcode::NOP, {}));
  nop[1] = 1;
  EXPECT_THAT(decode_error(nop), HasSubstr("'nop' has non-zero bits above bit 7"));
}

}  // namespace
}  // namespace seedchip::isa
