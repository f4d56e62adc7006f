// Trace readers on the real traces and on malformed snippets, and the workload transforms.
#include "serve/workload/workload.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "tests/input_error.h"

namespace seedchip::serve {
namespace {

using seedchip::testing::error_of;

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream(path) << text;
  return path;
}

TEST(Workload, ReadsTheRealTraces) {
  const Workload conv = load_workload("azure-conv");
  const Workload code = load_workload("azure-code");
  const Workload mooncake = load_workload("mooncake");
  EXPECT_EQ(conv.requests.size(), 19366u);
  EXPECT_EQ(code.requests.size(), 8819u);
  EXPECT_EQ(mooncake.requests.size(), 12031u);
  for (const Workload* w : {&conv, &code, &mooncake}) {
    EXPECT_EQ(w->requests.front().arrival, 0);
    for (size_t i = 1; i < w->requests.size(); ++i)
      ASSERT_LE(w->requests[i - 1].arrival, w->requests[i].arrival);
    // Each trace covers about an hour.
    EXPECT_GT(w->requests.back().arrival, 3000);
    EXPECT_LT(w->requests.back().arrival, 3700);
  }
  // The first records of the conversation trace: 18:15:46.6805900 (374, 44), 18:15:50.9951690.
  EXPECT_EQ(conv.requests[0].prompt, 374);
  EXPECT_EQ(conv.requests[0].output, 44);
  EXPECT_NEAR(conv.requests[1].arrival, 50.9951690 - 46.6805900, 1e-6);
  EXPECT_EQ(mooncake.requests[0].prompt, 6758);
  EXPECT_EQ(mooncake.requests[0].output, 500);
  // Its first record's hash_ids are 0 to 13: 14 blocks of 512 for 6,758 tokens, the last of 102.
  std::vector<uint64_t> first(14);
  for (uint64_t i = 0; i < first.size(); ++i) first[i] = i;
  EXPECT_EQ(mooncake.requests[0].hash_ids, first);
  EXPECT_EQ(mooncake.requests[0].blocks(kMooncakeBlockTokens), 14);
  EXPECT_EQ(mooncake.requests[0].block_tokens(13, kMooncakeBlockTokens), 6758 - 13 * 512);
  EXPECT_TRUE(conv.requests[0].hash_ids.empty());
}

// Blocks of 32 tokens: A = [1, 2, 3] (80 tokens: 32 + 32 + 16), B = [1, 2, 4] (90), C = [5]
// (20), D = A again.
Workload small_prefixes() {
  return {"prefixes",
          {{0, 0, 80, 2, {1, 2, 3}},
           {1, 10, 90, 2, {1, 2, 4}},
           {2, 20, 20, 2, {5}},
           {3, 30, 80, 2, {1, 2, 3}}}};
}

TEST(Workload, PrefixReuseCountsLeadingRunsOfBlocksSeenBefore) {
  // A and C are new; B reuses blocks 1 and 2 (64 tokens), D all of A (80).
  const PrefixReuse p = prefix_reuse(small_prefixes(), 32);
  EXPECT_EQ(p.prompt_tokens, 80 + 90 + 20 + 80);
  EXPECT_EQ(p.reused_tokens, 64 + 80);
  EXPECT_DOUBLE_EQ(p.ratio(), 144.0 / 270);
  // Only a leading run counts: [9, 2] finds 2 cached but not 9. An id seen for a block of other
  // tokens (5 held 20) is not reused; ids past the prompt are ignored.
  const Workload odd{
      "odd",
      {{0, 0, 20, 1, {5}}, {1, 0, 64, 1, {9, 2}}, {2, 0, 64, 1, {5, 7}}, {3, 0, 32, 1, {9, 6, 7}}}};
  EXPECT_EQ(prefix_reuse(odd, 32).reused_tokens, 32);  // the last request's block 9
  EXPECT_EQ(prefix_reuse(odd, 32).prompt_tokens, 20 + 64 + 64 + 32);
  EXPECT_EQ(prefix_reuse(load_workload("azure-conv"), 512).reused_tokens, 0);
  EXPECT_NE(error_of([] { prefix_reuse(small_prefixes(), 0); }), "");
}

TEST(Workload, PrefixReuseOfTheMooncakeConversationTrace) {
  // Worked out from the file independently (a Python script over the JSONL, same definition): of
  // 144,793,823 prompt tokens, 54,098,411 are in blocks an earlier request held: 37.4%.
  const PrefixReuse p = prefix_reuse(load_workload("mooncake"));
  EXPECT_EQ(p.prompt_tokens, 144793823);
  EXPECT_EQ(p.reused_tokens, 54098411);
}

TEST(Workload, MalformedTracesNameFileLineAndField) {
  const std::string header = "TIMESTAMP,ContextTokens,GeneratedTokens\n";
  const std::string good = "2023-11-16 18:15:46.6805900,374,44\n";
  const std::string csv =
      write_temp("bad_tokens.csv", header + good + good + "2023-11-16 18:15:47,12,x\n");
  EXPECT_EQ(error_of([&] { read_azure_csv(csv); }),
            csv + ":4: field GeneratedTokens: expected an integer, got 'x'");
  const std::string date = write_temp("bad_date.csv", header + "2023-11-16 18:61:00,1,1\n");
  EXPECT_NE(error_of([&] { read_azure_csv(date); }).find(date + ":2: field TIMESTAMP"),
            std::string::npos);
  const std::string zero = write_temp("zero.csv", header + "2023-11-16 18:15:00,0,1\n");
  EXPECT_EQ(error_of([&] { read_azure_csv(zero); }),
            zero + ":2: field ContextTokens: must be at least 1, got 0");
  const std::string fields = write_temp("fields.csv", header + "2023-11-16 18:15:00,1\n");
  EXPECT_NE(error_of([&] { read_azure_csv(fields); }).find(fields + ":2: field record"),
            std::string::npos);
  const std::string head = write_temp("head.csv", "time,in,out\n");
  EXPECT_NE(error_of([&] { read_azure_csv(head); }).find(head + ":1: field header"),
            std::string::npos);

  const std::string line = R"({"timestamp": 0, "input_length": 10, "output_length": 3})";
  const std::string missing =
      write_temp("missing.jsonl", line + "\n" + R"({"timestamp": 5, "input_length": 10})" + "\n");
  EXPECT_EQ(error_of([&] { read_mooncake_jsonl(missing); }),
            missing + ":2: field output_length: missing");
  const std::string type = write_temp(
      "type.jsonl", line + "\n\n" + R"({"timestamp": "5", "input_length": 1, "output_length": 1})");
  EXPECT_EQ(error_of([&] { read_mooncake_jsonl(type); }),
            type + ":3: field timestamp: expected an integer, got \"5\"");
  const std::string ids = write_temp(
      "ids.jsonl",
      line + "\n" +
          R"({"timestamp": 5, "input_length": 1, "output_length": 1, "hash_ids": [0, "7"]})");
  EXPECT_EQ(
      error_of([&] { read_mooncake_jsonl(ids); }),
      ids + ":2: field hash_ids: expected an array of non-negative integers, element 1 is \"7\"");
  const std::string negative =
      write_temp("negative.jsonl",
                 R"({"timestamp": 5, "input_length": 1, "output_length": 1, "hash_ids": [3, -1]})");
  EXPECT_EQ(
      error_of([&] { read_mooncake_jsonl(negative); }),
      negative + ":1: field hash_ids: expected an array of non-negative integers, element 1 is -1");
  const std::string scalar = write_temp(
      "scalar.jsonl", R"({"timestamp": 5, "input_length": 1, "output_length": 1, "hash_ids": 4})");
  EXPECT_EQ(error_of([&] { read_mooncake_jsonl(scalar); }),
            scalar + ":1: field hash_ids: expected an array of non-negative integers, got 4");
  const std::string fractional =
      write_temp("fractional.jsonl",
                 R"({"timestamp": 5, "input_length": 1, "output_length": 1, "hash_ids": [1.5]})");
  EXPECT_NE(
      error_of([&] { read_mooncake_jsonl(fractional); }).find(fractional + ":1: field hash_ids"),
      std::string::npos);
  const std::string json = write_temp("json.jsonl", "{not json\n");
  EXPECT_NE(error_of([&] { read_mooncake_jsonl(json); }).find(json + ":1: field record"),
            std::string::npos);
  EXPECT_NE(
      error_of([] { load_workload("/nonexistent/trace.csv"); }).find("/nonexistent/trace.csv"),
      std::string::npos);
}

TEST(Workload, RateAndTimeScaling) {
  const Workload w = first_requests(load_workload("azure-code"), 100);
  ASSERT_EQ(w.requests.size(), 100u);
  const Workload fast = scale_rate(w, 2), slow = scale_time(w, 3), off = offline(w);
  for (size_t i = 1; i < w.requests.size(); ++i) {
    const double gap = w.requests[i].arrival - w.requests[i - 1].arrival;
    EXPECT_NEAR(fast.requests[i].arrival - fast.requests[i - 1].arrival, gap / 2, 1e-9);
    EXPECT_NEAR(slow.requests[i].arrival - slow.requests[i - 1].arrival, gap * 3, 1e-9);
    EXPECT_EQ(off.requests[i].arrival, 0);
    EXPECT_EQ(fast.requests[i].prompt, w.requests[i].prompt);
  }
  EXPECT_NEAR(mean_rate(fast), 2 * mean_rate(w), 1e-9);
  EXPECT_NE(error_of([&] { scale_rate(w, 0); }), "");
  EXPECT_NE(error_of([&] { first_requests(w, 0); }), "");
}

TEST(Workload, SyntheticArrivalsHaveTheirRateAndAreDeterministic) {
  const Workload lengths = load_workload("azure-conv");
  const Workload p = poisson_arrivals(lengths, 5, 20000, 7);
  EXPECT_NEAR(mean_rate(p), 5, 5 * 0.03);  // 3 standard errors of 20,000 exponential gaps: 2.1%
  const Workload g = gamma_arrivals(lengths, 5, 3, 20000, 7);
  EXPECT_NEAR(mean_rate(g), 5, 5 * 0.1);  // CV 3: one standard error is 2.1%
  // Burstier: the gaps' coefficient of variation is near 3, Poisson's near 1.
  auto cv = [](const Workload& w) {
    double sum = 0, sq = 0;
    const double n = static_cast<double>(w.requests.size() - 1);
    for (size_t i = 1; i < w.requests.size(); ++i) {
      const double gap = w.requests[i].arrival - w.requests[i - 1].arrival;
      sum += gap;
      sq += gap * gap;
    }
    const double mean = sum / n;
    return std::sqrt(sq / n - mean * mean) / mean;
  };
  EXPECT_NEAR(cv(p), 1, 0.05);
  EXPECT_NEAR(cv(g), 3, 0.3);
  EXPECT_EQ(p.requests, poisson_arrivals(lengths, 5, 20000, 7).requests);
  EXPECT_NE(p.requests, poisson_arrivals(lengths, 5, 20000, 8).requests);
}

}  // namespace
}  // namespace seedchip::serve

namespace seedchip::serve {
namespace {

std::vector<Request> drawn(RequestStream& s) {
  std::vector<Request> out;
  for (Request r; s.next(r);) out.push_back(r);
  return out;
}

TEST(TraceStream, DrawsWhatLoadingAndTransformingGives) {
  for (const char* trace : {"azure-conv", "mooncake"}) {
    SCOPED_TRACE(trace);
    const Workload whole = load_workload(trace);
    const std::unique_ptr<RequestStream> s = open_trace(trace);
    EXPECT_EQ(s->name(), trace);
    EXPECT_EQ(drawn(*s), whole.requests);  // hash_ids and ids too, to the bit
    // The transformations, in the order the command applies them.
    const StreamOptions o{500, 3, 7, false};
    const Workload t = scale_rate(scale_time(first_requests(whole, 500), 3), 7);
    const std::unique_ptr<RequestStream> ts = open_trace(trace, o);
    EXPECT_EQ(drawn(*ts), t.requests);
    const std::unique_ptr<RequestStream> off = open_trace(trace, {10, 1, 1, true});
    EXPECT_EQ(drawn(*off), offline(first_requests(whole, 10)).requests);
    // A workload drawn as a stream, at twice its rate.
    WorkloadStream ws(t, {0, 1, 2});
    EXPECT_EQ(drawn(ws), scale_rate(t, 2).requests);
  }
}

TEST(TraceStream, RefusesWhatItCannotStream) {
  const std::string header = "TIMESTAMP,ContextTokens,GeneratedTokens\n";
  // Out of order: load_workload sorts it; a stream names the line instead.
  const std::string unsorted =
      write_temp("unsorted.csv", header + "2023-11-16 18:15:50,1,1\n2023-11-16 18:15:49.5,2,2\n");
  EXPECT_EQ(load_workload(unsorted).requests.front().prompt, 2);
  const std::unique_ptr<RequestStream> s = open_trace(unsorted);
  Request r;
  EXPECT_TRUE(s->next(r));
  EXPECT_EQ(error_of([&] { s->next(r); }),
            unsorted +
                ":3: field arrival: arrives 0.500000 s before the record before it; a streamed "
                "trace must be in arrival order (sort the file, or read it whole)");
  // A malformed record fails when it is drawn, naming its line.
  const std::string bad = write_temp("bad_stream.csv", header + "2023-11-16 18:15:50,1,1\n,,\n");
  const std::unique_ptr<RequestStream> b = open_trace(bad);
  EXPECT_TRUE(b->next(r));
  EXPECT_NE(error_of([&] { b->next(r); }).find(bad + ":3: field TIMESTAMP"), std::string::npos);
  const std::string empty = write_temp("empty_stream.csv", header);
  const std::unique_ptr<RequestStream> e = open_trace(empty);
  EXPECT_EQ(error_of([&] { e->next(r); }), empty + ": the trace holds no request");
  EXPECT_NE(error_of([] { open_trace("/nonexistent/trace.jsonl"); }).find("cannot open"),
            std::string::npos);
  EXPECT_EQ(error_of([] {
              open_trace("azure-conv", {0, 1, 0, false});
            }),
            "rate scale must be a positive number, got 0.000000");
}

}  // namespace
}  // namespace seedchip::serve
