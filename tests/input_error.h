#pragma once
// The message of the InputError that `fn` raises, or "" when it raises none: what the bad-input
// tests compare against (every bad input must give one clear InputError).
#include <functional>
#include <string>

#include "arch/error.h"

namespace seedchip::testing {

inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace seedchip::testing
