#pragma once
// Next-token sampling as llama2.c's run.c does it, so that a seed reproduces run.c's text:
// temperature 0 takes the argmax; otherwise the logits are divided by the temperature and
// softmaxed, one coin is drawn from run.c's xorshift* generator, and the token is drawn from the
// whole distribution (top_p <= 0 or >= 1) or from the nucleus: the most probable tokens whose
// cumulative probability first exceeds top_p. top_k (not in run.c; 0 = off) first keeps only the
// k most probable tokens; the nucleus is then taken from their renormalized distribution.
#include <cstdint>
#include <span>
#include <vector>

namespace seedchip::llm {

// The index of the first maximum; -1 for an empty span.
int argmax(std::span<const float> values);

class Sampler {
 public:
  // Throws InputError for vocab_size < 1, a negative or non-finite temperature, top_p outside
  // [0, 1] or a negative top_k. run.c's seed 0 means "time of day"; here every seed is used as is.
  Sampler(int vocab_size, float temperature, float top_p, int top_k, uint64_t seed);

  // Throws InputError unless logits has vocab_size entries.
  int sample(std::span<const float> logits);

  // run.c's random_u32 / random_f32: xorshift* on the 64-bit state.
  uint32_t random_u32();
  float random_f32();  // uniform in [0, 1), 24 bits

 private:
  struct ProbIndex {
    float prob;
    int index;
  };
  int vocab_size_;
  float temperature_;
  float top_p_;
  int top_k_;
  uint64_t state_;
  std::vector<float> probs_;
  std::vector<ProbIndex> candidates_;
};

}  // namespace seedchip::llm
