#pragma once
// The compiled-program file (.scp): a CompiledModel on disk, with the chip descriptor it was
// compiled for. Layout (little-endian): magic "SCMODEL\0", u32 format version, then three
// length-prefixed (u64) blocks: a JSON header (chip, graph, tensors, inputs/outputs, op table), the
// program (isa::serialize), and the constants' bytes (offsets in the header).
#include <cstdint>
#include <string>
#include <vector>

#include "compiler/codegen/compile.h"

namespace seedchip::runtime {

// Version 3 added the header's "in_place" map (output name -> input name it is stored over);
// version 4 each operator's "instructions" and "unit_instructions"; version 5 the "passed_through"
// map (output name -> input name, for sequence and optional values), each tensor's "containers"
// (dims null when unknown inside them), and "string" host elements over f32.
inline constexpr uint32_t kModelFormatVersion = 5;

std::vector<uint8_t> serialize_model(const compiler::CompiledModel& model);
// Throws InputError naming `file` and what is wrong (magic, version, truncation, bad header).
compiler::CompiledModel deserialize_model(const std::vector<uint8_t>& bytes,
                                          const std::string& file);

void save_model(const compiler::CompiledModel& model, const std::string& path);
compiler::CompiledModel load_model(const std::string& path);

}  // namespace seedchip::runtime
