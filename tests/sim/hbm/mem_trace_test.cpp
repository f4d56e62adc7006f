// Ramulator LoadStoreTrace replay: parsing, figures, and one clear error per bad line.
#include "sim/hbm/mem_trace.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "arch/error.h"

namespace seedchip::sim {
namespace {

std::string error_of(const std::string& trace) {
  std::istringstream in(trace);
  try {
    replay_mem_trace(in, "t.trace", HbmConfig{});
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(MemTraceTest, ReplaysATraceFileThroughOneStack) {
  const std::string path = ::testing::TempDir() + "hbm_replay.trace";
  {
    std::ofstream out(path);
    out << "# tiny trace\nLD 0x0\nLD 0x40\n\nST 0x80\nLD 1048576\nst_is_not_a_comment\n";
  }
  std::ifstream in(path);
  EXPECT_THROW(replay_mem_trace(in, path, HbmConfig{}), InputError);  // last line is malformed

  std::istringstream good("LD 0x0\nLD 0x40\nST 0x80\nLD 1048576\n");
  const MemTraceResult r = replay_mem_trace(good, "good.trace", HbmConfig{});
  EXPECT_EQ(r.requests, 4u);
  EXPECT_EQ(r.reads, 3u);
  EXPECT_EQ(r.writes, 1u);
  EXPECT_EQ(r.bytes, 256u);
  EXPECT_GT(r.cycles, 0u);
  EXPECT_NEAR(r.peak_gbytes_per_s, 1228.8, 1e-6);  // one stack
  EXPECT_NEAR(r.gbytes_per_s, r.bytes / r.seconds / 1e9, 1e-9);
  EXPECT_EQ(r.stats.get("hbm.reads"), 3);
  EXPECT_EQ(r.stats.get("hbm.bytes"), 256);
  std::remove(path.c_str());
}

TEST(MemTraceTest, MalformedLineNamesFileLineAndExpectedForm) {
  const std::string message = error_of("LD 0x0\nLOAD 0x40\n");
  EXPECT_NE(message.find("t.trace:2:"), std::string::npos) << message;
  EXPECT_NE(message.find("expected 'LD 0x<address>' or 'ST 0x<address>'"), std::string::npos);
  EXPECT_NE(error_of("LD 0xZZ\n"), "");
  EXPECT_NE(error_of("LD\n"), "");
  EXPECT_NE(error_of("LD 12 34\n"), "");
  EXPECT_NE(error_of("LD 99999999999999999999999\n"), "");
}

TEST(MemTraceTest, AddressBeyondOneStackIsAnError) {
  const std::string message = error_of("LD 0x900000000\n");  // 36 GiB
  EXPECT_NE(message.find("t.trace:1:"), std::string::npos) << message;
  EXPECT_NE(message.find("capacity"), std::string::npos) << message;
}

}  // namespace
}  // namespace seedchip::sim
