// docs/roofline.md must be exactly what bench/roofline writes from this tree: a change to the
// simulator, the compiler or seedchip-v1 that moves an operator against its roofline shows here,
// and the explanations of the gaps are reread. (Under test_perf: it simulates a 4096^3 GEMM.)
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(RooflineDoc, CommittedReportIsTheGeneratorsOutput) {
  const fs::path dir = fs::temp_directory_path() / "seedchip_roofline_doc_test";
  fs::create_directories(dir);
  const std::string command = std::string(SEEDCHIP_ROOFLINE_BINARY) + " " +
                              (dir / "roofline.md").string() + " > " +
                              (dir / "stdout.txt").string() + " 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << read(dir / "stdout.txt");
  const std::string committed = read(fs::path(SEEDCHIP_SOURCE_DIR) / "docs" / "roofline.md");
  EXPECT_FALSE(committed.empty());
  EXPECT_EQ(committed, read(dir / "roofline.md"))
      << "regenerate with: build/bench/roofline (writes docs/roofline.md)";
}

}  // namespace
