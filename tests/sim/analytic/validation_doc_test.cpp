// docs/validation.md (and validation_rows.csv beside it) must be exactly what bench/validate writes
// from the data and presets of this tree: a figure edited by hand, or a change to the model, the
// data or a preset without regenerating, fails here.
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

// The first line where two texts differ, for a readable failure.
std::string first_difference(const std::string& want, const std::string& got) {
  std::istringstream a(want), b(got);
  std::string la, lb;
  for (int line = 1;; ++line) {
    bool more_a = static_cast<bool>(std::getline(a, la));
    bool more_b = static_cast<bool>(std::getline(b, lb));
    if (!more_a && !more_b) return "identical lines (line endings differ)";
    if (la != lb || more_a != more_b)
      return "line " + std::to_string(line) + ":\n  committed: " + la + "\n  generated: " + lb;
  }
}

TEST(ValidationDoc, CommittedReportIsTheGeneratorsOutput) {
  const fs::path dir = fs::temp_directory_path() / "seedchip_validation_doc_test";
  fs::create_directories(dir);
  const std::string command = std::string(SEEDCHIP_VALIDATE_BINARY) + " " +
                              (dir / "validation.md").string() + " > " +
                              (dir / "stdout.txt").string();
  ASSERT_EQ(std::system(command.c_str()), 0) << read(dir / "stdout.txt");
  const fs::path docs = fs::path(SEEDCHIP_SOURCE_DIR) / "docs";
  for (const char* name : {"validation.md", "validation_rows.csv"}) {
    SCOPED_TRACE(name);
    const std::string committed = read(docs / name), generated = read(dir / name);
    EXPECT_FALSE(generated.empty());
    EXPECT_TRUE(committed == generated)
        << first_difference(committed, generated)
        << "\nregenerate with: build/bench/validate (writes docs/validation.md)";
  }
  fs::remove_all(dir);
}

}  // namespace
