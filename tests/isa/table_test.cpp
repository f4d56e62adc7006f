#include <gtest/gtest.h>

#include <set>

#include "isa/isa.h"

namespace seedchip::isa {
namespace {

TEST(InstructionTable, EveryOpcodeHasItsOwnEntryInEnumOrder) {
  const auto& all = all_instructions();
  ASSERT_EQ(all.size(), static_cast<size_t>(Opcode::kCount));
  for (size_t k = 0; k < all.size(); ++k) {
    EXPECT_EQ(static_cast<size_t>(all[k].opcode), k);
    EXPECT_EQ(&info(all[k].opcode), &all[k]);
  }
}

TEST(InstructionTable, MnemonicsAreUniqueAndLookUpTheirOpcode) {
  std::set<std::string> seen;
  for (const InstructionInfo& i : all_instructions()) {
    EXPECT_TRUE(seen.insert(i.mnemonic).second) << i.mnemonic;
    EXPECT_EQ(opcode_from_mnemonic(i.mnemonic), i.opcode);
  }
  EXPECT_EQ(opcode_from_mnemonic("frobnicate"), std::nullopt);
}

TEST(InstructionTable, OperandSpecsAreParsedIntoNamesAndKinds) {
  const InstructionInfo& matmul = info(Opcode::MXU_MATMUL);
  EXPECT_EQ(matmul.unit, Unit::MXU);
  ASSERT_EQ(matmul.operands.size(), 10u);
  EXPECT_EQ(matmul.operands[0].name, "out");
  EXPECT_EQ(matmul.operands[0].kind, OperandKind::REG);
  EXPECT_EQ(matmul.index_of("acc"), 5);
  EXPECT_EQ(matmul.operands[5].kind, OperandKind::FLAG);
  EXPECT_EQ(matmul.operands[7].kind, OperandKind::DTYPE);
  EXPECT_EQ(matmul.operands[9].kind, OperandKind::SEM);
  EXPECT_EQ(matmul.index_of("nonexistent"), -1);

  EXPECT_TRUE(info(Opcode::NOP).operands.empty());
  EXPECT_EQ(info(Opcode::LI).operands[1].kind, OperandKind::IMM48);
  EXPECT_EQ(info(Opcode::VPU_ADDS).operands[3].kind, OperandKind::F32);
  EXPECT_EQ(info(Opcode::JMP).operands[0].kind, OperandKind::LABEL);
  EXPECT_EQ(info(Opcode::SEM_WAIT).operands[1].kind, OperandKind::IMM16);
}

TEST(InstructionTable, AsynchronousUnitsEndWithWaitAndSignalSemaphores) {
  for (const InstructionInfo& i : all_instructions()) {
    if (i.unit != Unit::DMA && i.unit != Unit::MXU && i.unit != Unit::VPU) continue;
    ASSERT_GE(i.operands.size(), 2u) << i.mnemonic;
    EXPECT_EQ(i.index_of("wait"), static_cast<int>(i.operands.size()) - 2) << i.mnemonic;
    EXPECT_EQ(i.index_of("signal"), static_cast<int>(i.operands.size()) - 1) << i.mnemonic;
    EXPECT_EQ(i.operands.back().kind, OperandKind::SEM) << i.mnemonic;
  }
}

TEST(InstructionTable, OutOfRangeOpcodeIsAProgrammingError) {
  EXPECT_THROW(info(Opcode::kCount), std::invalid_argument);
}

TEST(InstructionTable, NamesOfUnitsAndKinds) {
  EXPECT_EQ(unit_name(Unit::VPU), "vpu");
  EXPECT_EQ(operand_kind_name(OperandKind::IMM48), "imm48");
}

}  // namespace
}  // namespace seedchip::isa
