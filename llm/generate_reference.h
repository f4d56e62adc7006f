#pragma once
// run.c's generate loop on the host reference model: the prompt is encoded with BOS; from
// position 0 each step runs the model on the current token, then the next token is the prompt's
// next one while the prompt lasts and a sampled one after; generation stops after `steps`
// positions or when BOS is sampled. The text is what run.c prints: the pieces of every token after
// BOS (the prompt's included) decoded against their predecessor, minus the lone unprintable bytes
// run.c's safe_printf drops.
#include <string>

#include "llm/llama2c.h"
#include "llm/sampler.h"
#include "llm/tokenizer.h"

namespace seedchip::llm {

// steps <= 0 or beyond seq_len means seq_len (as run.c). Throws InputError when the tokenizer's
// vocabulary size differs from the model's.
std::string generate_reference(const LlamaModel& model, const Tokenizer& tokenizer,
                               const std::string& prompt, int steps, Sampler& sampler);

}  // namespace seedchip::llm
