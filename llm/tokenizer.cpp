#include "llm/tokenizer.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

#include "arch/error.h"

namespace seedchip::llm {

namespace {

constexpr int kMaxPieceBytes = 1 << 16;  // far above any real tokenizer; bounds garbled lengths

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw InputError(path + ": " + what);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The byte of a "<0xXX>" piece, or -1 for any other piece.
int raw_byte(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
  const int hi = hex_digit(piece[3]), lo = hex_digit(piece[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

}  // namespace

Tokenizer Tokenizer::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open tokenizer file");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t at = 0;
  const auto i32 = [&](const std::string& what) {
    if (bytes.size() - at < 4)
      fail(path, "truncated at byte " + std::to_string(at) + ", expected the 4-byte " + what);
    int32_t v;
    std::memcpy(&v, bytes.data() + at, 4);
    at += 4;
    return v;
  };

  Tokenizer t;
  t.path_ = path;
  t.max_token_length_ = i32("max_token_length");
  if (t.max_token_length_ < 1 || t.max_token_length_ > kMaxPieceBytes)
    fail(path, "max_token_length is " + std::to_string(t.max_token_length_) + ", expected 1.." +
                   std::to_string(kMaxPieceBytes));
  // The file has no token count: tokens run to its end (run.c takes the count from the model).
  while (at < bytes.size()) {
    const std::string token = "token " + std::to_string(t.pieces_.size());
    float score;
    const int32_t score_bits = i32(token + " score");
    std::memcpy(&score, &score_bits, 4);
    const int32_t len = i32(token + " length");
    if (len < 0 || len > t.max_token_length_)
      fail(path, token + " length is " + std::to_string(len) + ", expected 0..max_token_length " +
                     std::to_string(t.max_token_length_));
    if (bytes.size() - at < static_cast<size_t>(len))
      fail(path, "truncated in " + token + ": " + std::to_string(len) + " bytes expected, " +
                     std::to_string(bytes.size() - at) + " left");
    t.pieces_.emplace_back(bytes.data() + at, static_cast<size_t>(len));
    t.scores_.push_back(score);
    at += static_cast<size_t>(len);
  }
  // Byte fallback and the BOS/EOS ids assume the llama2.c layout: <unk>, <s>, </s>, 256 bytes.
  if (t.size() < kFirstByteToken + 256)
    fail(path, "has " + std::to_string(t.size()) + " tokens, expected at least " +
                   std::to_string(kFirstByteToken + 256) + " (3 special tokens and 256 bytes)");
  for (int i = 0; i < t.size(); ++i) t.ids_.emplace(t.pieces_[static_cast<size_t>(i)], i);
  return t;
}

Tokenizer Tokenizer::from_vocabulary(const std::string& source, std::vector<std::string> pieces,
                                     std::vector<float> scores) {
  if (pieces.size() != scores.size())
    fail(source, std::to_string(pieces.size()) + " tokens but " + std::to_string(scores.size()) +
                     " scores, expected one score per token");
  if (pieces.size() < kFirstByteToken + 256)
    fail(source, "has " + std::to_string(pieces.size()) + " tokens, expected at least " +
                     std::to_string(kFirstByteToken + 256) + " (3 special tokens and 256 bytes)");
  // encode's byte fallback takes the token of byte b to be kFirstByteToken + b.
  for (int b = 0; b < 256; ++b) {
    const std::string& p = pieces[static_cast<size_t>(kFirstByteToken + b)];
    if (raw_byte(p) != b) {
      char expected[8];
      std::snprintf(expected, sizeof expected, "<0x%02X>", b);
      fail(source, "token " + std::to_string(kFirstByteToken + b) + " is \"" + p +
                       "\", expected the byte token \"" + expected + "\"");
    }
  }
  Tokenizer t;
  t.path_ = source;
  for (const std::string& p : pieces)
    t.max_token_length_ = std::max(t.max_token_length_, static_cast<int>(p.size()));
  t.pieces_ = std::move(pieces);
  t.scores_ = std::move(scores);
  for (int i = 0; i < t.size(); ++i) t.ids_.emplace(t.pieces_[static_cast<size_t>(i)], i);
  return t;
}

void Tokenizer::check(int token) const {
  if (token < 0 || token >= size())
    throw InputError(path_ + ": token id " + std::to_string(token) + " out of range, expected 0.." +
                     std::to_string(size() - 1));
}

const std::string& Tokenizer::piece(int token) const {
  check(token);
  return pieces_[static_cast<size_t>(token)];
}

float Tokenizer::score(int token) const {
  check(token);
  return scores_[static_cast<size_t>(token)];
}

int Tokenizer::lookup(std::string_view s) const {
  const auto it = ids_.find(s);
  return it == ids_.end() ? -1 : it->second;
}

std::vector<int> Tokenizer::encode(std::string_view text, bool bos, bool eos) const {
  std::vector<int> tokens;
  if (bos) tokens.push_back(kBos);
  if (!text.empty()) {
    // run.c assumes " " is in the vocab; its byte token stands in when it is not.
    const int space = lookup(" ");
    tokens.push_back(space >= 0 ? space : kFirstByteToken + ' ');
  }

  // One codepoint at a time: a lead byte plus up to 3 continuation bytes (10xxxxxx), as run.c
  // groups them (a stray continuation byte starts a group of its own).
  const auto is_continuation = [](char c) { return (static_cast<uint8_t>(c) & 0xC0) == 0x80; };
  size_t start = 0;
  while (start < text.size()) {
    size_t end = start + 1;
    while (end < text.size() && is_continuation(text[end]) && end - start < 4) ++end;
    const std::string_view cp = text.substr(start, end - start);
    const int id = lookup(cp);
    if (id >= 0) {
      tokens.push_back(id);
    } else {
      for (const char c : cp) tokens.push_back(kFirstByteToken + static_cast<uint8_t>(c));
    }
    start = end;
  }

  std::string merged;
  for (;;) {
    float best_score = -1e10f;
    int best_id = -1;
    size_t best_at = 0;
    for (size_t i = 0; i + 1 < tokens.size(); ++i) {
      merged = pieces_[static_cast<size_t>(tokens[i])];
      merged += pieces_[static_cast<size_t>(tokens[i + 1])];
      const int id = lookup(merged);
      if (id >= 0 && scores_[static_cast<size_t>(id)] > best_score) {
        best_score = scores_[static_cast<size_t>(id)];
        best_id = id;
        best_at = i;
      }
    }
    if (best_id < 0) break;
    tokens[best_at] = best_id;
    tokens.erase(tokens.begin() + static_cast<std::ptrdiff_t>(best_at) + 1);
  }

  if (eos) tokens.push_back(kEos);
  return tokens;
}

std::string Tokenizer::decode_piece(int prev_token, int token) const {
  std::string_view p = piece(token);
  // SentencePiece strips the leading space of the first piece after BOS.
  if (prev_token == kBos && !p.empty() && p[0] == ' ') p.remove_prefix(1);
  const int byte = raw_byte(p);
  if (byte >= 0) return std::string(1, static_cast<char>(byte));
  return std::string(p);
}

}  // namespace seedchip::llm
