// docs/isa.md is generated; this keeps the committed copy equal to the table.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "isa/isa.h"

namespace seedchip::isa {
namespace {

const std::string kDocPath = std::string(SEEDCHIP_SOURCE_DIR) + "/docs/isa.md";

TEST(Reference, CommittedDocsMatchTheTable) {
  const std::string generated = reference_markdown();
  std::ifstream file(kDocPath, std::ios::binary);
  std::stringstream committed;
  committed << file.rdbuf();
  EXPECT_TRUE(committed.str() == generated)
      << kDocPath << " is stale; regenerate it with "
      << "`build/tools/seedchip isa-doc > docs/isa.md` and commit it";
}

TEST(Reference, DocumentsEveryInstructionWithItsEncoding) {
  std::string md = reference_markdown();
  for (const InstructionInfo& i : all_instructions())
    EXPECT_NE(md.find("| `" + i.mnemonic + "` |"), std::string::npos) << i.mnemonic;
  EXPECT_NE(md.find("op[7:0] rd[12:8] imm[60:13]"), std::string::npos);
  EXPECT_NE(md.find("acc[33]"), std::string::npos);
}

}  // namespace
}  // namespace seedchip::isa
