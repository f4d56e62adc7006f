// Feeds arbitrary bytes to the assembler (as text) and to the program reader (as a binary file).
// Only InputError may come out of either; whatever they accept must round-trip exactly.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "arch/error.h"
#include "isa/isa.h"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_asm: %s\n", what);
  std::abort();
}

void check_text(std::string_view text) {
  using namespace seedchip::isa;
  Program program;
  try {
    program = assemble(text, "fuzz.s");
  } catch (const seedchip::InputError&) {
    return;
  }
  if (assemble(disassemble(program), "fuzz-disassembled.s") != program)
    fail("assemble(disassemble(p)) != p");
  if (deserialize(serialize(program), "fuzz-serialized.bin") != program)
    fail("deserialize(serialize(p)) != p");
}

void check_binary(const std::vector<uint8_t>& bytes) {
  using namespace seedchip::isa;
  Program program;
  try {
    program = deserialize(bytes, "fuzz.bin");
  } catch (const seedchip::InputError&) {
    return;
  }
  if (serialize(program) != bytes) fail("serialize(deserialize(b)) != b");
  if (assemble(disassemble(program), "fuzz-disassembled.s") != program)
    fail("assemble(disassemble(deserialize(b))) != deserialize(b)");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check_text(std::string_view(reinterpret_cast<const char*>(data), size));
  check_binary(std::vector<uint8_t>(data, data + size));
  return 0;
}
