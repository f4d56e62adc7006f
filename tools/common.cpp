#include "tools/common.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>

#include "arch/error.h"

namespace seedchip::tools {

void ChipOptions::add_to(CLI::App& command) {
  command.add_option("--chip", preset, "chip preset name or preset YAML file")->default_val(preset);
  command.add_option("--set", overrides, "override a chip parameter: key=value (repeatable)");
}

LoadedChip ChipOptions::load() const { return load_chip(preset, overrides); }

nlohmann::json figure(double value, const std::string& unit) {
  return {{"value", value}, {"unit", unit}};
}

void QuantizationFlags::add_to(CLI::App& command) {
  command
      .add_option("--quantize-weights", weights,
                  "store constant MatMul/Gemm weights in bf16, fp8 (E4M3) or int8, 8-bit formats "
                  "with per-output-channel scales (default: the activations' format)")
      ->check(CLI::IsMember({"bf16", "fp8", "int8"}));
  command
      .add_option("--quantize-activations", activations,
                  "quantized products' activations in bf16, fp8 or int8 (scaled per row on the "
                  "chip; 8-bit needs the same weight format) (default: bf16)")
      ->check(CLI::IsMember({"bf16", "fp8", "int8"}));
}

std::optional<compiler::passes::QuantizationOptions> QuantizationFlags::options() const {
  namespace passes = compiler::passes;
  if (!given()) return std::nullopt;
  passes::QuantizationOptions q;
  q.activations = activations.empty() ? passes::QuantFormat::kBf16
                                      : passes::quant_format_from_name(activations);
  q.weights = weights.empty() ? q.activations : passes::quant_format_from_name(weights);
  passes::check_quantization(q);
  return q;
}

void write_json(const std::string& path, const nlohmann::json& figures, const LoadedChip* chip) {
  std::ofstream out(path);
  if (!out) throw InputError(path + ": cannot open for writing");
  out << figures.dump(2) << "\n";
  if (!out) throw InputError(path + ": write failed");
  if (chip) {
    std::ofstream config(path + ".config.yaml");
    if (!config) throw InputError(path + ".config.yaml: cannot open for writing");
    config << resolved_config_yaml(*chip);
  }
}

namespace {
std::function<void()>* g_stop = nullptr;
std::atomic<bool> g_interrupted{false};

extern "C" void on_sigint(int) {
  g_interrupted.store(true);
  if (g_stop) (*g_stop)();  // only sets an atomic flag in the event queue
}
}  // namespace

InterruptGuard::InterruptGuard(std::function<void()> stop) {
  g_stop = new std::function<void()>(std::move(stop));
  std::signal(SIGINT, on_sigint);
}

InterruptGuard::~InterruptGuard() {
  std::signal(SIGINT, SIG_DFL);
  delete g_stop;
  g_stop = nullptr;
}

bool InterruptGuard::interrupted() { return g_interrupted.load(); }

std::function<void(double)> progress_printer(const std::string& label) {
  if (!isatty(STDERR_FILENO)) return {};
  auto last = std::make_shared<std::chrono::steady_clock::time_point>();
  return [label, last](double simulated_seconds) {
    const auto now = std::chrono::steady_clock::now();
    if (now - *last < std::chrono::milliseconds(200)) return;
    *last = now;
    std::fprintf(stderr, "\r%s: simulated %.3f us (Ctrl-C stops with partial stats)", label.c_str(),
                 simulated_seconds * 1e6);
  };
}

void end_progress() {
  if (isatty(STDERR_FILENO)) std::fprintf(stderr, "\r\033[K");
}

namespace {

// "2s", "200ms", "500us" in seconds.
double parse_duration(const std::string& text, const std::string& what) {
  size_t end = 0;
  double v = 0;
  try {
    v = std::stod(text, &end);
  } catch (const std::exception&) {
    end = 0;
  }
  const std::string unit = text.substr(end);
  const double scale = unit == "s" ? 1 : unit == "ms" ? 1e-3 : unit == "us" ? 1e-6 : 0;
  if (end == 0 || scale == 0 || !(v > 0))
    throw InputError("--slo " + what +
                     ": expected a positive duration with a unit (s, ms, us), got '" + text + "'");
  return v * scale;
}

}  // namespace

void parse_slo(const std::string& text, double& ttft, double& tpot) {
  size_t at = 0;
  while (at <= text.size()) {
    const size_t comma = std::min(text.find(',', at), text.size());
    const std::string item = text.substr(at, comma - at);
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    if (eq == std::string::npos || (key != "ttft" && key != "tpot"))
      throw InputError("--slo: expected ttft=DURATION and/or tpot=DURATION, got '" + item + "'");
    (key == "ttft" ? ttft : tpot) = parse_duration(item.substr(eq + 1), key);
    at = comma + 1;
  }
}

}  // namespace seedchip::tools
