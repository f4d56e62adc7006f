#include "llm/sampler.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "arch/error.h"

namespace seedchip::llm {

namespace {

void softmax(std::vector<float>& x) {
  float max_val = x[0];
  for (size_t i = 1; i < x.size(); ++i)
    if (x[i] > max_val) max_val = x[i];
  float sum = 0.0f;
  for (float& v : x) {
    v = std::exp(v - max_val);
    sum += v;
  }
  for (float& v : x) v /= sum;
}

}  // namespace

int argmax(std::span<const float> values) {
  if (values.empty()) return -1;
  size_t best = 0;
  for (size_t i = 1; i < values.size(); ++i)
    if (values[i] > values[best]) best = i;
  return static_cast<int>(best);
}

Sampler::Sampler(int vocab_size, float temperature, float top_p, int top_k, uint64_t seed)
    : vocab_size_(vocab_size),
      temperature_(temperature),
      top_p_(top_p),
      top_k_(top_k),
      state_(seed) {
  if (vocab_size < 1)
    throw InputError("sampler: vocab_size is " + std::to_string(vocab_size) + ", expected >= 1");
  if (!std::isfinite(temperature) || temperature < 0.0f)
    throw InputError("sampler: temperature is " + std::to_string(temperature) +
                     ", expected a finite value >= 0");
  if (!(top_p >= 0.0f && top_p <= 1.0f))
    throw InputError("sampler: top_p is " + std::to_string(top_p) + ", expected 0..1");
  if (top_k < 0)
    throw InputError("sampler: top_k is " + std::to_string(top_k) + ", expected >= 0 (0 = off)");
  probs_.resize(static_cast<size_t>(vocab_size));
  candidates_.reserve(static_cast<size_t>(vocab_size));
}

uint32_t Sampler::random_u32() {
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  return static_cast<uint32_t>((state_ * 0x2545F4914F6CDD1Dull) >> 32);
}

float Sampler::random_f32() { return static_cast<float>(random_u32() >> 8) / 16777216.0f; }

int Sampler::sample(std::span<const float> logits) {
  if (logits.size() != probs_.size())
    throw InputError("sampler: " + std::to_string(logits.size()) + " logits, expected vocab_size " +
                     std::to_string(vocab_size_));
  if (temperature_ == 0.0f) return argmax(logits);

  for (size_t i = 0; i < probs_.size(); ++i) probs_[i] = logits[i] / temperature_;
  softmax(probs_);
  const float coin = random_f32();
  const int n = vocab_size_;
  const bool nucleus = top_p_ > 0.0f && top_p_ < 1.0f;
  const bool top_k = top_k_ > 0 && top_k_ < n;

  if (!nucleus && !top_k) {  // run.c's sample_mult
    float cdf = 0.0f;
    for (int i = 0; i < n; ++i) {
      cdf += probs_[static_cast<size_t>(i)];
      if (coin < cdf) return i;
    }
    return n - 1;  // rounding left the cdf short of the coin
  }
  if (n == 1) return 0;

  candidates_.clear();
  float mass = 1.0f;
  if (top_k) {
    for (int i = 0; i < n; ++i) candidates_.push_back({probs_[static_cast<size_t>(i)], i});
  } else {
    // run.c's shortcut: a token below this cannot be in the nucleus, since the tokens at least as
    // probable as it would already hold more than top_p. Sorting only the rest saves time.
    const float cutoff = (1.0f - top_p_) / static_cast<float>(n - 1);
    for (int i = 0; i < n; ++i)
      if (probs_[static_cast<size_t>(i)] >= cutoff)
        candidates_.push_back({probs_[static_cast<size_t>(i)], i});
    // A near-uniform distribution with a tiny top_p can leave none (undefined behaviour in run.c).
    if (candidates_.empty())
      for (int i = 0; i < n; ++i) candidates_.push_back({probs_[static_cast<size_t>(i)], i});
  }
  // Stable, so equal probabilities keep index order (as glibc's merge-sort qsort does for run.c).
  std::stable_sort(candidates_.begin(), candidates_.end(),
                   [](const ProbIndex& a, const ProbIndex& b) { return a.prob > b.prob; });
  if (top_k) {
    candidates_.resize(static_cast<size_t>(top_k_));
    mass = 0.0f;
    for (const ProbIndex& c : candidates_) mass += c.prob;
  }

  size_t last = candidates_.size() - 1;
  float cumulative = 0.0f;
  if (nucleus) {
    const float threshold = top_k ? top_p_ * mass : top_p_;
    for (size_t i = 0; i < candidates_.size(); ++i) {
      cumulative += candidates_[i].prob;
      if (cumulative > threshold) {
        last = i;
        break;
      }
    }
  } else {
    cumulative = mass;
  }
  // The coin scales to the kept mass rather than renormalizing every probability.
  const float r = coin * cumulative;
  float cdf = 0.0f;
  for (size_t i = 0; i <= last; ++i) {
    cdf += candidates_[i].prob;
    if (r < cdf) return candidates_[i].index;
  }
  return candidates_[last].index;
}

}  // namespace seedchip::llm
