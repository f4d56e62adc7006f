#pragma once
// Paths of the shared llama2.c test model and small file helpers for the llm tests.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace seedchip::llm::testing {

inline const std::string kModelDir = std::string(SEEDCHIP_SHARED_DATA_DIR) + "/models/";
inline const std::string kStories = kModelDir + "stories260K.bin";
inline const std::string kTok512 = kModelDir + "tok512.bin";
inline const std::string kStoriesMd = kModelDir + "stories260K.md";

inline std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Writes `bytes` to a fresh file under the test temp dir and returns its path.
inline std::string write_temp(const std::string& name, const std::vector<char>& bytes) {
  const std::string path = ::testing::TempDir() + "seedchip_llm_" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  EXPECT_TRUE(out) << path;
  return path;
}

inline void put_i32(std::vector<char>& bytes, size_t at, int32_t v) {
  std::memcpy(bytes.data() + at, &v, 4);
}

template <typename T>
void append(std::vector<char>& bytes, const T* data, size_t n) {
  const char* p = reinterpret_cast<const char*>(data);
  bytes.insert(bytes.end(), p, p + n * sizeof(T));
}

}  // namespace seedchip::llm::testing
