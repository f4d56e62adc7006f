// Property tests: text and binary forms of random programs come back identical.
#include <gtest/gtest.h>

#include "isa/isa.h"
#include "tests/isa/random_program.h"

namespace seedchip::isa {
namespace {

TEST(RoundTrip, DisassembleThenAssembleGivesTheSameProgram) {
  std::mt19937_64 rng(2024);
  size_t instructions = 0;
  for (int trial = 0; trial < 100; ++trial) {
    Program program = testing::random_program(rng, 4, 60);
    for (const Section& s : program.sections) instructions += s.code.size();
    std::string text = disassemble(program);
    ASSERT_EQ(assemble(text, "random.s"), program) << "trial " << trial << ":\n" << text;
  }
  EXPECT_GT(instructions, 5000u);
}

TEST(RoundTrip, SerializeThenDeserializeGivesTheSameProgramAndBytes) {
  std::mt19937_64 rng(99);
  for (int trial = 0; trial < 60; ++trial) {
    Program program = testing::random_program(rng, 4, 60);
    std::vector<uint8_t> bytes = serialize(program);
    Program back = deserialize(bytes, "random.bin");
    ASSERT_EQ(back, program) << "trial " << trial;
    EXPECT_EQ(serialize(back), bytes);
  }
}

TEST(RoundTrip, EveryF32BitPatternClassSurvivesText) {
  const uint32_t patterns[] = {0x00000000, 0x80000000, 0x00000001, 0x807fffff, 0x00800000,
                               0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000, 0x7fc00000,
                               0xffc00000, 0x7f800001, 0x7fbfffff, 0x3f800000, 0x3dcccccd};
  for (uint32_t bits : patterns) {
    Program program{{Section{{}, {Instruction{Opcode::VPU_MULS, {1, 2, 3, bits, 0, -1, -1}}}}}};
    EXPECT_EQ(assemble(disassemble(program), "f32.s"), program) << std::hex << bits;
  }
}

TEST(RoundTrip, DisassemblyIsReadable) {
  Program program = assemble(
      ".core 0-3,5,6,9\n"
      "  li x1, 0\n"
      "top: addi x1, x1, 1\n"
      "  vpu.muls x2, x3, x4, 0.1, bf16, s1, -\n"
      "  blt x1, x5, top\n",
      "t.s");
  EXPECT_EQ(disassemble(program),
            ".core 0-3,5,6,9\n"
            "  li x1, 0\n"
            "L1:\n"
            "  addi x1, x1, 1\n"
            "  vpu.muls x2, x3, x4, 0.1, bf16, s1, -\n"
            "  blt x1, x5, L1\n");
}

TEST(RoundTrip, DisassembleRejectsABranchOutsideItsSection) {
  Program program{{Section{{}, {Instruction{Opcode::JMP, {2}}}}}};
  EXPECT_THROW(disassemble(program), std::invalid_argument);
}

}  // namespace
}  // namespace seedchip::isa
