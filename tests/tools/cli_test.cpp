// The seedchip command line, run as a user would: exit codes, one-line errors naming the input,
// machine-readable output, and byte-identical stats across identical runs.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;

struct Output {
  int status;
  std::string text;  // stdout and stderr together
};

Output run(const std::string& args) {
  const std::string command = std::string(SEEDCHIP_BINARY) + " " + args + " 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  std::string text;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe.get())) > 0) text.append(buf.data(), n);
  const int status = pclose(pipe.release());
  return {WEXITSTATUS(status), text};
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("seedchip-cli-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(Cli, InfoListsEveryPresetAndDescribesOne) {
  const Output list = run("info");
  ASSERT_EQ(list.status, 0) << list.text;
  for (const char* preset : {"seedchip-v1", "seedchip-v1-export", "h200", "ascend-910b",
                             "llama-3.1-70b", "qwen3-235b-a22b"})
    EXPECT_NE(list.text.find(preset), std::string::npos) << preset;
  const Output one = run("info seedchip-v1 --json " + (dir_ / "info.json").string());
  ASSERT_EQ(one.status, 0) << one.text;
  EXPECT_NE(one.text.find("hbm.timing.tRCD"), std::string::npos);
  EXPECT_NE(one.text.find("3A090"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir_ / "info.json.config.yaml"));
}

TEST_F(Cli, UnknownOverrideKeyIsOneClearError) {
  const Output o = run("info seedchip-v1 --set hbm.timing.tRCDX=3");
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.text.find("hbm.timing.tRCDX"), std::string::npos) << o.text;
}

TEST_F(Cli, AssembleDisassembleRoundTrip) {
  const fs::path source = dir_ / "loop.s";
  std::ofstream(source) << ".core all\n  li x1, 0\n  li x2, 10\nloop:\n  addi x1, x1, 1\n"
                           "  blt x1, x2, loop\n  halt\n";
  ASSERT_EQ(run("asm " + source.string() + " -o " + (dir_ / "loop.bin").string()).status, 0);
  const Output dis =
      run("disasm " + (dir_ / "loop.bin").string() + " -o " + (dir_ / "again.s").string());
  ASSERT_EQ(dis.status, 0) << dis.text;
  ASSERT_EQ(
      run("asm " + (dir_ / "again.s").string() + " -o " + (dir_ / "again.bin").string()).status, 0);
  EXPECT_EQ(read(dir_ / "loop.bin"), read(dir_ / "again.bin"));
}

TEST_F(Cli, MalformedAssemblyNamesFileAndLine) {
  const fs::path source = dir_ / "bad.s";
  std::ofstream(source) << "li x1, 0\nadd x1, x2\n";
  const Output o = run("asm " + source.string() + " -o " + (dir_ / "bad.bin").string());
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.text.find("bad.s:2"), std::string::npos) << o.text;
}

TEST_F(Cli, SimRunsAProgramAndStatsAreByteIdenticalAcrossRuns) {
  const fs::path source = dir_ / "prog.s";
  std::ofstream(source) << ".core all\n  li x1, 0\n  li x2, 4096\n  li x3, 8\n  li x4, 512\n"
                           "  dma.load x1, x2, x3, x4, x4, -, s0\n  sem.wait s0, 1\n  halt\n";
  const Output a = run("sim " + source.string() + " --stats " + (dir_ / "a.json").string());
  ASSERT_EQ(a.status, 0) << a.text;
  ASSERT_EQ(run("sim " + source.string() + " --stats " + (dir_ / "b.json").string()).status, 0);
  EXPECT_EQ(read(dir_ / "a.json"), read(dir_ / "b.json"));
  const auto stats = nlohmann::json::parse(read(dir_ / "a.json"));
  EXPECT_EQ(stats["chip"]["hbm"]["bytes"]["value"].get<double>(), 16 * 8 * 512.0);
  EXPECT_EQ(stats["chip"]["hbm"]["bytes"]["unit"], "bytes");
}

TEST_F(Cli, FunctionalGemmMatchesTheHostAndWritesJsonAndTrace) {
  const Output o = run("gemm 128 256 192 --dtype int8 --json " + (dir_ / "g.json").string() +
                       " --trace " + (dir_ / "g.trace.json").string());
  ASSERT_EQ(o.status, 0) << o.text;
  EXPECT_NE(o.text.find("PASS"), std::string::npos) << o.text;
  const auto figures = nlohmann::json::parse(read(dir_ / "g.json"));
  EXPECT_EQ(figures["check"]["pass"], true);
  EXPECT_EQ(figures["mxu_utilization"]["unit"], "ratio");
  const auto trace = nlohmann::json::parse(read(dir_ / "g.trace.json"));
  EXPECT_GT(trace["traceEvents"].size(), 10u);
}

TEST_F(Cli, MemReplaysATraceAndRejectsAMalformedLine) {
  const fs::path trace = dir_ / "t.trace";
  {
    std::ofstream out(trace);
    for (int i = 0; i < 256; ++i)
      out << (i % 4 ? "LD" : "ST") << " 0x" << std::hex << i * 64 << "\n";
  }
  const Output ok = run("mem --trace " + trace.string() + " --json " + (dir_ / "m.json").string());
  ASSERT_EQ(ok.status, 0) << ok.text;
  EXPECT_EQ(nlohmann::json::parse(read(dir_ / "m.json"))["bytes"]["value"].get<double>(),
            256 * 64.0);
  std::ofstream(dir_ / "bad.trace") << "LD 0x40\nLOAD 0x80\n";
  const Output bad = run("mem --trace " + (dir_ / "bad.trace").string());
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.text.find("bad.trace:2"), std::string::npos) << bad.text;
}

TEST_F(Cli, UnknownChipPresetIsAnError) {
  const Output o = run("gemm 8 8 8 --chip no-such-chip");
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.text.find("no-such-chip"), std::string::npos) << o.text;
}

}  // namespace

namespace {

TEST_F(Cli, InterruptStopsCleanlyWithValidPartialStats) {
  const std::string stats = (dir_ / "partial.json").string();
  const std::string command = std::string(SEEDCHIP_BINARY) +
                              " gemm 8192 8192 8192 --timing-only --stats " + stats +
                              " >/dev/null 2>&1 & pid=$!; sleep 1; kill -INT $pid; sleep 5; " +
                              // A background job starts with SIGINT ignored until the command
                              // installs its handler: on a loaded machine (a sanitizer build)
                              // the first signal can come before that; then send another.
                              "kill -0 $pid 2>/dev/null && kill -INT $pid; wait $pid";
  const int status = std::system(("bash -c '" + command + "'").c_str());
  EXPECT_EQ(WEXITSTATUS(status), 130);
  const auto json = nlohmann::json::parse(read(dir_ / "partial.json"));
  EXPECT_EQ(json["sim"]["completed"]["value"].get<double>(), 0.0);
  EXPECT_TRUE(json["sim"]["core_cycles"]["value"].is_number());
}

}  // namespace

namespace {

TEST_F(Cli, VectorAddExampleMovesTheBytesItDescribes) {
  const std::string stats = (dir_ / "va.json").string();
  const Output o =
      run("sim " + std::string(SEEDCHIP_SOURCE_DIR) + "/examples/vector_add.s --stats " + stats);
  ASSERT_EQ(o.status, 0) << o.text;
  const auto json = nlohmann::json::parse(read(stats));
  // 16 cores x (two 8 KiB BF16 inputs + one 16 KiB FP32 sum).
  EXPECT_EQ(json["chip"]["hbm"]["bytes"]["value"].get<double>(), 16 * (2 * 8192 + 16384.0));
  EXPECT_EQ(json["chip"]["core5"]["vpu"]["instructions"]["value"].get<double>(), 3.0);
}

}  // namespace

namespace {

const std::string kAddmm = "/usr/share/libonnx-testdata/data/pytorch-operator/test_operator_addmm/";

TEST_F(Cli, CompileThenRunAnOnnxModel) {
  const std::string scp = (dir_ / "addmm.scp").string();
  const Output c = run("compile " + kAddmm + "model.onnx -o " + scp);
  ASSERT_EQ(c.status, 0) << c.text;
  EXPECT_NE(c.text.find("2 operators"), std::string::npos) << c.text;
  std::string inputs;
  for (int i = 0; i < 3; ++i)
    inputs += " --input " + std::to_string(i) + "=" + kAddmm + "test_data_set_0/input_" +
              std::to_string(i) + ".pb";
  const Output r = run("run " + scp + inputs + " --output-dir " + (dir_ / "out").string() +
                       " --json " + (dir_ / "run.json").string());
  ASSERT_EQ(r.status, 0) << r.text;
  EXPECT_NE(r.text.find("output 4"), std::string::npos) << r.text;
  EXPECT_TRUE(fs::exists(dir_ / "out" / "output_0.pb"));
  const auto json = nlohmann::json::parse(read(dir_ / "run.json"));
  ASSERT_EQ(json["operators"].size(), 2u);
  double sum = 0;
  for (const auto& op : json["operators"]) sum += op["cycles"]["value"].get<double>();
  EXPECT_EQ(sum, json["cycles"]["value"].get<double>());  // the table adds up to the run
  // Loading the program for a chip with another configuration is refused.
  const Output other = run("run " + scp + inputs + " --set sram.bytes=4194304");
  EXPECT_EQ(other.status, 2);
  EXPECT_NE(other.text.find("compiled for chip 'seedchip-v1'"), std::string::npos) << other.text;
}

// The products of test_Linear (Gemm with constant weights) quantized to INT8 x INT8, and a
// combination the MXU cannot multiply refused before compiling.
TEST_F(Cli, CompileAndRunQuantizeConstantWeights) {
  const std::string linear = "/usr/share/libonnx-testdata/data/pytorch-converted/test_Linear/";
  const Output c = run("compile " + linear +
                       "model.onnx --quantize-weights int8 --quantize-activations int8 "
                       "--dump-ir-after quantize");
  ASSERT_EQ(c.status, 0) << c.text;
  EXPECT_NE(c.text.find("seedchip::QuantizedMatMul"), std::string::npos) << c.text;
  EXPECT_NE(c.text.find("in int8 (weights stored in int8)"), std::string::npos) << c.text;
  EXPECT_NE(c.text.find("quantized: weights int8, activations int8"), std::string::npos) << c.text;
  const Output r = run("run " + linear + "model.onnx --quantize-weights fp8 --input 0=" + linear +
                       "test_data_set_0/input_0.pb");
  ASSERT_EQ(r.status, 0) << r.text;
  const Output bad =
      run("compile " + linear + "model.onnx --quantize-weights bf16 --quantize-activations int8");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.text.find("the MXU multiplies two operands of one format"), std::string::npos)
      << bad.text;
}

TEST_F(Cli, BadModelFilesAreOneLineErrors) {
  const fs::path bad = dir_ / "bad.onnx";
  std::ofstream(bad) << "not a model";
  const Output o = run("compile " + bad.string());
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.text.find(bad.string() + ": not a valid ONNX model"), std::string::npos) << o.text;
  const Output missing = run("run " + kAddmm + "model.onnx");
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.text.find("input '0'"), std::string::npos) << missing.text;
}

TEST_F(Cli, ConformanceReportsEachCase) {
  const Output o = run("conformance --filter 'node/test_(relu|gru_defaults)$'");
  ASSERT_EQ(o.status, 0) << o.text;
  EXPECT_NE(o.text.find("pass        node/test_relu"), std::string::npos) << o.text;
  EXPECT_NE(o.text.find("unsupported node/test_gru_defaults"), std::string::npos) << o.text;
  EXPECT_NE(o.text.find("2 cases: 1 pass, 0 fail, 1 unsupported"), std::string::npos) << o.text;
}

TEST_F(Cli, GenerateStreamsTheModelsTextAndReportsBothChips) {
  const std::string models = std::string(SEEDCHIP_SHARED_DATA_DIR) + "/models/";
  const std::string args = "generate --model " + models + "stories260K.bin --tokenizer " + models +
                           "tok512.bin -n 6 --temperature 0";
  const Output o = run(args + " --json " + (dir_ / "gen.json").string());
  ASSERT_EQ(o.status, 0) << o.text;
  EXPECT_NE(o.text.find("Once upon a time,"), std::string::npos) << o.text;
  EXPECT_NE(o.text.find("time per output token (us)"), std::string::npos) << o.text;
  const auto json = nlohmann::json::parse(read(dir_ / "gen.json"));
  EXPECT_GT(json["time_per_output_token"]["value"].get<double>(), 0);
  EXPECT_EQ(json["compare"]["chip"], "h200");
  EXPECT_GT(json["unit_instructions_per_step"]["value"].get<double>(), 0);
  EXPECT_GT(json["instructions_per_step"]["value"].get<double>(),
            json["unit_instructions_per_step"]["value"].get<double>());
  // INT8 weights and activations: the same opening, a fraction of the FP32-grade weight bytes.
  const Output q = run(args + " --quantize-weights int8 --quantize-activations int8 --json " +
                       (dir_ / "int8.json").string());
  ASSERT_EQ(q.status, 0) << q.text;
  EXPECT_NE(q.text.find("Once upon a time,"), std::string::npos) << q.text;
  const auto int8 = nlohmann::json::parse(read(dir_ / "int8.json"));
  EXPECT_LT(int8["hbm_bytes_per_step"]["value"].get<double>(),
            json["hbm_bytes_per_step"]["value"].get<double>() / 3);
  const Output mixed = run(args + " --quantize-weights fp8 --quantize-activations int8");
  EXPECT_EQ(mixed.status, 2);
  EXPECT_NE(mixed.text.find("need weights in int8"), std::string::npos) << mixed.text;
  const Output preset = run("generate --model llama-3.1-8b --quantize-weights int8");
  EXPECT_EQ(preset.status, 2);
  EXPECT_NE(preset.text.find("timing-only runs time BF16 weights"), std::string::npos)
      << preset.text;
  // A model file that is not one: one line naming it.
  const fs::path bad = dir_ / "bad.bin";
  std::ofstream(bad) << "tiny";
  const Output b =
      run("generate --model " + bad.string() + " --tokenizer " + models + "tok512.bin -n 2");
  EXPECT_EQ(b.status, 2);
  EXPECT_NE(b.text.find(bad.string() + ": "), std::string::npos) << b.text;
}

}  // namespace

namespace {

TEST_F(Cli, SensitivityMovesEachParameterBothWays) {
  const fs::path json = dir_ / "sensitivity.json";
  const Output out = run("sensitivity --chip h200 --requests 200 --json " + json.string());
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("yuan/Mtok at +20.0%"), std::string::npos) << out.text;
  const nlohmann::json j = nlohmann::json::parse(read(json));
  EXPECT_TRUE(j["base"]["slo_met"].get<bool>());
  EXPECT_EQ(j["rows"].size(), 14u);  // 7 parameters x -20% / +20%
  EXPECT_EQ(j["base"]["tokens_per_s"]["unit"], "tokens/s");
  const Output bad = run("sensitivity --chip h200 --prices " + (dir_ / "none.yaml").string());
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.text.find("none.yaml: cannot open the prices file"), std::string::npos) << bad.text;
}

TEST_F(Cli, PlanSizesAFleetAndRejectsABadPlan) {
  const fs::path plan = dir_ / "plan.yaml";
  std::ofstream(plan) << "model: llama-3.1-70b\ntrace: azure-conv\nrequests: 200\n"
                         "demand: {peak_tokens_per_s: 1e6, peak_to_mean: 2}\n"
                         "candidates:\n  - chip: h200\n    chips: [8]\n";
  const fs::path json = dir_ / "plan.json";
  const Output out = run("plan " + plan.string() + " --json " + json.string());
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("Cheapest mix"), std::string::npos) << out.text;
  const nlohmann::json j = nlohmann::json::parse(read(json));
  EXPECT_EQ(j["shapes"].size(), 1u);
  EXPECT_GT(j["mix"]["yuan_per_million_tokens"]["value"].get<double>(), 0);
  std::ofstream(plan) << "model: llama-3.1-70b\ntrace: azure-conv\n"
                         "demand: {peak_tokens_per_s: 1e6, peak_to_mean: 2}\n"
                         "candidates:\n  - chip: h200\n    chipz: [8]\n";
  const Output bad = run("plan " + plan.string());
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.text.find("unknown key 'candidates[0].chipz'"), std::string::npos) << bad.text;
}

}  // namespace

namespace {

// Loads a report page in headless Chromium (Debian's, from scripts/install-deps.sh) and returns
// the DOM it built; also takes a screenshot, which must not be empty.
std::string render(const fs::path& page, const fs::path& dir) {
  const std::string flags =
      "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
      "--disable-background-networking --disable-component-update --disable-sync "
      "--user-data-dir=" +
      (dir / "chromium-profile").string();
  const std::string url = "file://" + fs::absolute(page).string();
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(
      popen(("chromium " + flags + " --dump-dom " + url + " 2>/dev/null").c_str(), "r"), pclose);
  std::string dom;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe.get())) > 0) dom.append(buf.data(), n);
  pipe.reset();
  const fs::path png = dir / "page.png";
  const std::string shot = "chromium " + flags +
                           " --window-size=1280,2000 --screenshot=" + png.string() + " " + url +
                           " >/dev/null 2>&1";
  EXPECT_EQ(std::system(shot.c_str()), 0) << shot;
  EXPECT_TRUE(fs::exists(png) && fs::file_size(png) > 10000) << "no screenshot of " << url;
  return dom;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_F(Cli, ServeReportRendersInHeadlessChromium) {
  ASSERT_EQ(std::system("command -v chromium >/dev/null"), 0)
      << "chromium is missing: scripts/install-deps.sh installs it";
  const fs::path report = dir_ / "serve-report";
  const Output out =
      run("serve-sim --model llama-3.1-70b --chip h200 --chips 8 --trace azure-conv "
          "--limit 300 --report " +
          report.string());
  ASSERT_EQ(out.status, 0) << out.text;
  const nlohmann::json data = nlohmann::json::parse(read(report / "data.json"));
  EXPECT_EQ(data["samples"]["ttft_s"].size(), 300u);
  EXPECT_EQ(data["throughput_latency"].size(), 8u);
  const std::string dom = render(report / "index.html", dir_);
  for (const char* title : {"TTFT CDF", "Utilization over time", "p99 TTFT against throughput"})
    EXPECT_NE(dom.find(title), std::string::npos) << title;
  EXPECT_EQ(count(dom, "<svg"), 7u);
  EXPECT_EQ(dom.find("no data"), std::string::npos);
}

TEST_F(Cli, FleetReportRendersInHeadlessChromium) {
  ASSERT_EQ(std::system("command -v chromium >/dev/null"), 0)
      << "chromium is missing: scripts/install-deps.sh installs it";
  const fs::path report = dir_ / "fleet-report";
  const Output out =
      run("serve-sim --model llama-3.1-70b --chip h200 --chips 8 --trace azure-conv --limit 300 "
          "--scheduler disaggregated --instances 3 --report " +
          report.string());
  ASSERT_EQ(out.status, 0) << out.text;
  const nlohmann::json data = nlohmann::json::parse(read(report / "data.json"));
  EXPECT_EQ(data["samples"]["ttft_s"].size(), 300u);
  EXPECT_EQ(data["instances"].size(), 3u);
  EXPECT_EQ(data["throughput_latency"].size(), 6u);
  const std::string dom = render(report / "index.html", dir_);
  for (const char* title : {"TTFT CDF", "Busy share of each instance", "Output tokens/s by pool",
                            "p99 TTFT against throughput", "pool 1: h200 x8, decode"})
    EXPECT_NE(dom.find(title), std::string::npos) << title;
  EXPECT_EQ(count(dom, "<svg"), 7u);
  EXPECT_EQ(dom.find("no data"), std::string::npos);
}

TEST_F(Cli, PlanReportRendersInHeadlessChromium) {
  ASSERT_EQ(std::system("command -v chromium >/dev/null"), 0)
      << "chromium is missing: scripts/install-deps.sh installs it";
  const fs::path plan = dir_ / "plan.yaml";
  std::ofstream(plan) << "model: llama-3.1-70b\ntrace: azure-conv\nrequests: 200\n"
                         "demand: {peak_tokens_per_s: 1e6, peak_to_mean: 2}\n"
                         "candidates:\n  - chip: h200\n    chips: [4, 8]\n"
                         "slo_scales: [0.5, 1, 2]\n";
  const fs::path report = dir_ / "plan-report";
  const Output out = run("plan " + plan.string() + " --report " + report.string());
  ASSERT_EQ(out.status, 0) << out.text;
  const std::string dom = render(report / "index.html", dir_);
  for (const char* title : {"Yearly cost by part", "Cost against the SLO", "p99 TTFT against load"})
    EXPECT_NE(dom.find(title), std::string::npos) << title;
  EXPECT_EQ(count(dom, "<svg"), 5u);
  EXPECT_EQ(dom.find("no data"), std::string::npos);
}

}  // namespace

namespace {

TEST_F(Cli, DisaggregatedServingSplitsTheInstancesIntoPrefillAndDecodePools) {
  const fs::path json = dir_ / "disaggregated.json";
  const std::string base =
      "serve-sim --model llama-3.1-70b --chip h200 --chips 8 --trace azure-conv --limit 300 "
      "--scheduler disaggregated ";
  const Output out = run(base + "--instances 4 --prefill-instances 1 --json " + json.string());
  ASSERT_EQ(out.status, 0) << out.text;
  const nlohmann::json j = nlohmann::json::parse(read(json));
  // Every request with more than one output token moves from the prefill pool to a decode one.
  EXPECT_GT(j["kv_transfers"]["count"]["value"].get<double>(), 200);
  EXPECT_EQ(j["requests"]["finished"]["value"].get<double>(), 300);
  EXPECT_NE(out.text.find("1 x h200 x8, prefill"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("3 x h200 x8, decode"), std::string::npos) << out.text;
  const Output one = run(base + "--instances 1");
  EXPECT_EQ(one.status, 2);
  EXPECT_NE(one.text.find("--scheduler disaggregated: needs --instances of at least 2"),
            std::string::npos)
      << one.text;
}

}  // namespace

namespace {

TEST_F(Cli, ServeSimPipelinesAnInstanceWhenTpIsBelowItsChips) {
  const std::string base =
      "serve-sim --model llama-3.1-70b --chip h200 --chips 8 --trace azure-conv --limit 300 ";
  const Output out = run(base + "--tp 4");
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("on 8 x h200 (TP 4 x PP 2)"), std::string::npos) << out.text;
  const Output bad = run(base + "--tp 3");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.text.find("--tp 3: expected a divisor of --chips 8"), std::string::npos)
      << bad.text;
}

TEST_F(Cli, ServeSimShardsExpertsWithEp) {
  const std::string base =
      "serve-sim --model mixtral-8x7b --chip h200 --chips 8 --trace azure-conv --limit 300 ";
  const Output out = run(base + "--ep 8");
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("on 8 x h200 (TP 8, EP 8)"), std::string::npos) << out.text;
  const Output bad = run(base + "--ep 3");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.text.find("--ep 3: expected a divisor of the TP group of 8 chips"),
            std::string::npos)
      << bad.text;
  const Output dense = run(
      "serve-sim --model llama-3.1-70b --chip h200 --chips 8 --trace azure-conv --limit 30 --ep 2");
  EXPECT_EQ(dense.status, 2);
  EXPECT_NE(dense.text.find("a dense model takes only EP 1"), std::string::npos) << dense.text;
}

TEST_F(Cli, StreamedTraceMatchesTheLoadedOne) {
  const std::string base =
      "serve-sim --model llama-3.1-70b --chip h200 --chips 8 --trace mooncake --limit 2000 "
      "--prefix-caching --instances 2 --router prefix-affinity ";
  const fs::path loaded = dir_ / "loaded.json", streamed = dir_ / "streamed.json";
  const Output a = run(base + "--json " + loaded.string());
  ASSERT_EQ(a.status, 0) << a.text;
  const Output b = run(base + "--stream --json " + streamed.string());
  ASSERT_EQ(b.status, 0) << b.text;
  const nlohmann::json x = nlohmann::json::parse(read(loaded)),
                       y = nlohmann::json::parse(read(streamed));
  auto value = [](const nlohmann::json& j, const char* a, const char* b) {
    return j[a][b]["value"].get<double>();
  };
  EXPECT_EQ(value(y, "requests", "total"), 2000);
  EXPECT_EQ(x["steps"]["value"], y["steps"]["value"]);  // the same run, latencies binned
  EXPECT_EQ(value(x, "prefix_cache", "hit_tokens"), value(y, "prefix_cache", "hit_tokens"));
  EXPECT_NEAR(value(y, "ttft", "p99"), value(x, "ttft", "p99"), 0.005 * value(x, "ttft", "p99"));
  // The reuse the trace implies needs the whole trace: only the loaded run reports it.
  EXPECT_TRUE(x["prefix_cache"].contains("trace_reuse"));
  EXPECT_FALSE(y["prefix_cache"].contains("trace_reuse"));
  EXPECT_NE(b.text.find("streamed"), std::string::npos);

  const fs::path unsorted = dir_ / "unsorted.csv";
  std::ofstream(unsorted) << "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                             "2023-11-16 18:15:50,10,3\n2023-11-16 18:15:49,10,3\n";
  const Output c = run("serve-sim --model llama-3.1-70b --chip h200 --chips 8 --stream --trace " +
                       unsorted.string());
  EXPECT_EQ(c.status, 2);
  EXPECT_NE(c.text.find(unsorted.string() + ":3: field arrival: arrives 1.000000 s before"),
            std::string::npos)
      << c.text;
}

}  // namespace
