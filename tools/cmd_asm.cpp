// seedchip asm / disasm / isa-doc: the assembler, the disassembler and the generated ISA reference.
#include <fstream>
#include <iostream>
#include <iterator>

#include "arch/error.h"
#include "isa/isa.h"
#include "tools/common.h"

namespace seedchip::tools {
namespace {

void write_file(const std::string& path, const void* data, size_t bytes) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw InputError(path + ": cannot open for writing");
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  if (!out) throw InputError(path + ": write failed");
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

void register_asm(CLI::App& app) {
  struct Paths {
    std::string input, output;
  };
  auto as = std::make_shared<Paths>();
  CLI::App* assemble = app.add_subcommand("asm", "assemble a SeedChip program into a binary");
  assemble->add_option("FILE", as->input, "assembly source")->required();
  assemble->add_option("-o,--output", as->output, "binary program to write")->required();
  assemble->callback([as] {
    const auto bytes = isa::serialize(isa::assemble(read_text(as->input), as->input));
    write_file(as->output, bytes.data(), bytes.size());
  });

  auto dis = std::make_shared<Paths>();
  CLI::App* disassemble = app.add_subcommand("disasm", "disassemble a binary SeedChip program");
  disassemble->add_option("FILE", dis->input, "binary program (or assembly)")->required();
  disassemble->add_option("-o,--output", dis->output, "write the text here instead of stdout");
  disassemble->callback([dis] {
    const std::string text = isa::disassemble(isa::load_program_file(dis->input));
    if (dis->output.empty())
      std::cout << text;
    else
      write_file(dis->output, text.data(), text.size());
  });

  CLI::App* doc = app.add_subcommand("isa-doc", "print the ISA reference (docs/isa.md)");
  doc->callback([] { std::cout << isa::reference_markdown(); });
}

}  // namespace seedchip::tools
