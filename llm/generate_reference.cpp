#include "llm/generate_reference.h"

#include <cctype>

#include "arch/error.h"
#include "llm/reference.h"

namespace seedchip::llm {

namespace {

// run.c's safe_printf: a single byte that is neither printable nor whitespace is dropped (a raw
// byte token outside a valid UTF-8 sequence would garble the terminal).
bool printable(const std::string& piece) {
  if (piece.size() != 1) return true;
  const unsigned char b = static_cast<unsigned char>(piece[0]);
  return std::isprint(b) || std::isspace(b);
}

}  // namespace

std::string generate_reference(const LlamaModel& model, const Tokenizer& tokenizer,
                               const std::string& prompt, int steps, Sampler& sampler) {
  if (tokenizer.size() != model.config.vocab_size)
    throw InputError(model.path + ": vocab_size " + std::to_string(model.config.vocab_size) +
                     " differs from the tokenizer's " + std::to_string(tokenizer.size()) +
                     " tokens");
  if (steps <= 0 || steps > model.config.seq_len) steps = static_cast<int>(model.config.seq_len);

  const std::vector<int> prompt_tokens = tokenizer.encode(prompt, /*bos=*/true, /*eos=*/false);
  ReferenceModel ref(model);
  std::string text;
  int token = prompt_tokens[0];
  for (int pos = 0; pos < steps; ++pos) {
    const std::span<const float> logits = ref.forward(token, pos);
    const size_t next_pos = static_cast<size_t>(pos) + 1;
    const int next =
        next_pos < prompt_tokens.size() ? prompt_tokens[next_pos] : sampler.sample(logits);
    if (next == Tokenizer::kBos) break;
    const std::string piece = tokenizer.decode_piece(token, next);
    if (printable(piece)) text += piece;
    token = next;
  }
  return text;
}

}  // namespace seedchip::llm
