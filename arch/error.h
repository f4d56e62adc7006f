#pragma once
// One exception type for every bad input (config, preset, assembly, trace, model file). Its message
// names the file, the line or key path, and what was expected; the CLI prints it and exits 2.
#include <stdexcept>
#include <string>

namespace seedchip {

class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace seedchip
