#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <filesystem>

#include "arch/error.h"
#include "isa/isa.h"

namespace seedchip::isa {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string error_of(std::string_view text) {
  try {
    assemble(text, "prog.s");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

const Instruction& only_instruction(const Program& program) {
  EXPECT_EQ(program.sections.size(), 1u);
  EXPECT_EQ(program.sections.at(0).code.size(), 1u);
  return program.sections.at(0).code.at(0);
}

int64_t f32_operand(std::string_view literal) {
  Program p = assemble("vpu.adds x1, x2, x3, " + std::string(literal) + ", fp32, -, -", "t.s");
  return only_instruction(p).operands[3];
}

TEST(Assembler, ParsesEveryOperandKind) {
  Program p = assemble(
      "  li x31, -0x80000000\n"
      "  li x1, 0x7fffffffffff\n"
      "  sem.signal s31, -32768\n"
      "  mxu.matmul x1, x2, x3, x4, x5, 1, bf16, fp32, s0, -\n"
      "  addi x2 , x3,-7   # tight and loose spacing\n",
      "t.s");
  ASSERT_EQ(p.sections.size(), 1u);
  EXPECT_TRUE(p.sections[0].cores.empty());
  const auto& code = p.sections[0].code;
  ASSERT_EQ(code.size(), 5u);
  EXPECT_EQ(code[0].op, Opcode::LI);
  EXPECT_EQ(code[0].operands[0], 31);
  EXPECT_EQ(code[0].operands[1], -0x80000000LL);
  EXPECT_EQ(code[1].operands[1], (int64_t{1} << 47) - 1);
  EXPECT_EQ(code[2].operands[0], 31);
  EXPECT_EQ(code[2].operands[1], -32768);
  EXPECT_EQ(code[3].operands[5], 1);
  EXPECT_EQ(code[3].operands[6], static_cast<int64_t>(DataType::BF16));
  EXPECT_EQ(code[3].operands[7], static_cast<int64_t>(DataType::FP32));
  EXPECT_EQ(code[3].operands[8], 0);
  EXPECT_EQ(code[3].operands[9], kNoSemaphore);
  EXPECT_EQ(code[4].op, Opcode::ADDI);
  EXPECT_EQ(code[4].operands[2], -7);
}

TEST(Assembler, F32LiteralsKeepTheirExactBits) {
  EXPECT_EQ(f32_operand("1.5"), std::bit_cast<uint32_t>(1.5f));
  EXPECT_EQ(f32_operand("-2e-3"), std::bit_cast<uint32_t>(-2e-3f));
  EXPECT_EQ(f32_operand("0x1.8p3"), std::bit_cast<uint32_t>(12.0f));
  EXPECT_EQ(f32_operand("-0x1p-149"), 0x80000001);
  EXPECT_EQ(f32_operand("1e-45"), 0x00000001);
  EXPECT_EQ(f32_operand("-0"), 0x80000000);
  EXPECT_EQ(f32_operand("3"), std::bit_cast<uint32_t>(3.0f));
  EXPECT_EQ(f32_operand("inf"), 0x7f800000);
  EXPECT_EQ(f32_operand("-inf"), 0xff800000);
  EXPECT_EQ(f32_operand("nan"), 0x7fc00000);
  EXPECT_EQ(f32_operand("nan(0xffa00001)"), 0xffa00001);
}

TEST(Assembler, LabelsResolveForwardAndBackwardWithinTheSection) {
  Program p = assemble(
      "start:\n"
      "  jmp end\n"
      "loop: addi x1, x1, 1\n"
      "  blt x1, x2, loop\n"
      "  bne x1, x2, start\n"
      "end:\n",
      "t.s");
  const auto& code = p.sections[0].code;
  ASSERT_EQ(code.size(), 4u);
  EXPECT_EQ(code[0].operands[0], 4);
  EXPECT_EQ(code[2].operands[2], 1);
  EXPECT_EQ(code[3].operands[2], 0);
}

TEST(Assembler, CoreDirectiveStartsSectionsWithTheirOwnLabels) {
  Program p = assemble(
      "  nop\n"
      ".core 3\n"
      "top: jmp top\n"
      ".core 0, 2,5-7\n"
      "  nop\n"
      "top: jmp top\n"
      ".core all\n",
      "t.s");
  ASSERT_EQ(p.sections.size(), 4u);
  EXPECT_TRUE(p.sections[0].cores.empty());
  EXPECT_EQ(p.sections[1].cores, std::vector<int>{3});
  EXPECT_EQ(p.sections[2].cores, (std::vector<int>{0, 2, 5, 6, 7}));
  EXPECT_EQ(p.sections[2].code[1].operands[0], 1);
  EXPECT_TRUE(p.sections[3].cores.empty());
  EXPECT_TRUE(p.sections[3].code.empty());
}

TEST(Assembler, NoImplicitSectionBeforeAFirstCoreDirective) {
  Program p = assemble("# header\n\n.core 1\n  halt\n", "t.s");
  ASSERT_EQ(p.sections.size(), 1u);
  EXPECT_EQ(p.sections[0].cores, std::vector<int>{1});
  EXPECT_TRUE(assemble("", "t.s").sections.empty());
}

TEST(AssemblerErrors, UnknownMnemonicSuggestsTheClosest) {
  EXPECT_THAT(error_of("nop\n  ad x1, x2, x3\n"),
              AllOf(StartsWith("prog.s:2: unknown mnemonic 'ad' (did you mean 'add'?)"),
                    HasSubstr("; expected an instruction mnemonic")));
  EXPECT_THAT(error_of("vpu.rsqr x1, x2, x3, fp32, -, -"), HasSubstr("did you mean 'vpu.rsqrt'"));
}

TEST(AssemblerErrors, WrongOperandCountShowsTheOperands) {
  EXPECT_EQ(error_of("add x1, x2"),
            "prog.s:1: 'add' takes 3 operands, got 2; expected `add rd:reg, ra:reg, rb:reg`");
  EXPECT_THAT(error_of("halt x1"), StartsWith("prog.s:1: 'halt' takes 0 operands, got 1"));
}

TEST(AssemblerErrors, EmptyOperandFromAStrayComma) {
  EXPECT_THAT(error_of("add x1, x2,"),
              AllOf(StartsWith("prog.s:1: 'add' operand 3 (rb:reg) is empty"),
                    HasSubstr("expected x0..x31")));
  EXPECT_THAT(error_of("add x1,, x2"), HasSubstr("operand 2 (ra:reg) is empty"));
}

TEST(AssemblerErrors, RegistersAndSemaphores) {
  EXPECT_EQ(error_of("add x1, x32, x3"),
            "prog.s:1: 'add' operand 2 (ra:reg) 'x32' out of range; expected x0..x31");
  EXPECT_EQ(error_of("add x1, r2, x3"),
            "prog.s:1: 'add' operand 2 (ra:reg) 'r2' is not a register; expected x0..x31");
  EXPECT_THAT(error_of("sem.wait s32, 1"),
              AllOf(HasSubstr("'s32' out of range"), HasSubstr("expected s0..s31 or -")));
  EXPECT_THAT(error_of("sem.wait x1, 1"), HasSubstr("'x1' is not a semaphore"));
}

TEST(AssemblerErrors, ImmediatesOutOfRangeNameTheKindAndItsRange) {
  EXPECT_EQ(error_of("sem.signal s0, 32768"),
            "prog.s:1: 'sem.signal' operand 2 (count:imm16) '32768' out of range for imm16; "
            "expected -32768..32767");
  EXPECT_THAT(error_of("addi x1, x1, 0x80000000"),
              HasSubstr("out of range for imm32; expected -2147483648..2147483647"));
  EXPECT_THAT(error_of("li x1, 99999999999999999999999"), HasSubstr("out of range for imm48"));
  EXPECT_THAT(error_of("li x1, 12abc"), HasSubstr("'12abc' is not an integer"));
  EXPECT_THAT(error_of("mxu.matmul x1, x2, x3, x4, x5, 2, bf16, fp32, -, -"),
              AllOf(HasSubstr("(acc:flag) '2' out of range"), HasSubstr("expected 0 or 1")));
}

TEST(AssemblerErrors, F32AndDataTypes) {
  EXPECT_THAT(error_of("vpu.adds x1, x2, x3, 1e60, fp32, -, -"),
              AllOf(HasSubstr("'1e60' out of range for f32"), HasSubstr("expected a finite FP32")));
  EXPECT_THAT(
      error_of("vpu.adds x1, x2, x3, one, fp32, -, -"),
      AllOf(HasSubstr("'one' is not a number"), HasSubstr("expected a decimal or hex float")));
  EXPECT_THAT(error_of("vpu.adds x1, x2, x3, nan(0x3f800000), fp32, -, -"),
              HasSubstr("is not a number"));
  EXPECT_THAT(error_of("vpu.exp x1, x2, x3, bf8, -, -"),
              AllOf(HasSubstr("(type:dtype) 'bf8' is not a data type"),
                    HasSubstr("expected fp32, bf16, fp16, fp8e4m3, fp8e5m2, int8 or int32")));
}

TEST(AssemblerErrors, UndefinedAndDuplicateLabelsNameTheLine) {
  EXPECT_EQ(error_of("nop\n  jmp nowhere\n"),
            "prog.s:2: undefined label 'nowhere'; expected a label defined in the same section "
            "(sections start at .core)");
  EXPECT_EQ(error_of("a: nop\nnop\na: nop\n"),
            "prog.s:3: label 'a' already defined at line 1; expected each label defined once per "
            "section");
  EXPECT_THAT(error_of("here: nop\n.core 1\n  jmp here\n"),
              StartsWith("prog.s:3: undefined label 'here'"));
  EXPECT_THAT(error_of("jmp 5"), HasSubstr("'5' is not a label name"));
  EXPECT_THAT(error_of("9lives: nop"), HasSubstr("'9lives' is not a label name"));
}

TEST(AssemblerErrors, CoreDirective) {
  EXPECT_THAT(error_of(".core\n"), StartsWith("prog.s:1: '.core' without cores"));
  EXPECT_THAT(error_of("nop\n.core 1,1\n"), StartsWith("prog.s:2: core 1 listed twice"));
  EXPECT_THAT(error_of(".core 0-3,2"), HasSubstr("core 2 listed twice"));
  EXPECT_THAT(error_of(".core 7-5"), HasSubstr("core range '7-5' is descending"));
  EXPECT_THAT(error_of(".core x"), AllOf(HasSubstr("'x' is not a core number or range"),
                                         HasSubstr("expected `all` or a comma-separated list")));
  EXPECT_THAT(error_of(".core 0-99999999999"), HasSubstr("core 99999999999 out of range"));
  EXPECT_THAT(error_of(".core -1"), HasSubstr("is not a core number"));
  EXPECT_THAT(error_of(".sections 2"),
              AllOf(HasSubstr("unknown directive '.sections'"), HasSubstr("expected .core")));
}

TEST(AssemblerErrors, LineNumbersCountBlankAndCommentLines) {
  EXPECT_THAT(error_of("# one\n\r\n\n  bogus\n"), StartsWith("prog.s:4: unknown mnemonic"));
}

TEST(Assembler, FuzzSeedCorpusAssembles) {
  std::filesystem::path corpus =
      std::filesystem::path(SEEDCHIP_SOURCE_DIR) / "fuzz/corpus/fuzz_asm";
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
    if (entry.path().extension() != ".s") continue;
    ++files;
    EXPECT_NO_THROW(load_program_file(entry.path().string())) << entry.path();
  }
  EXPECT_GE(files, 3);
}

}  // namespace
}  // namespace seedchip::isa
