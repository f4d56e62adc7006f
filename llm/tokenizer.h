#pragma once
// The byte-fallback BPE tokenizer of llama2.c (run.c's Tokenizer), read from its tokenizer.bin:
// int32 max_token_length, then per token float score, int32 byte length, the bytes. Token ids are
// positions in the file; ids 3..258 are the raw bytes 0x00..0xFF written "<0xXX>".
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace seedchip::llm {

class Tokenizer {
 public:
  static constexpr int kBos = 1;
  static constexpr int kEos = 2;
  static constexpr int kFirstByteToken = 3;  // the token of byte b is kFirstByteToken + b

  // Throws InputError naming the file for one that is missing, truncated, or garbled (a negative
  // or oversized length, a piece longer than max_token_length, fewer than 259 tokens).
  static Tokenizer load(const std::string& path);

  // A vocabulary held elsewhere (a GGUF file's tokenizer.ggml.tokens and .scores), with pieces as
  // tokenizer.bin has them (spaces, not U+2581) in the layout above: <unk>, BOS, EOS, then the
  // 256 byte tokens. Errors name `source`: fewer than 259 tokens, counts of pieces and scores that
  // differ, an id 3..258 that is not the "<0xXX>" of its byte.
  static Tokenizer from_vocabulary(const std::string& source, std::vector<std::string> pieces,
                                   std::vector<float> scores);

  // run.c's encode: [BOS] then, for non-empty text, the " " token (SentencePiece's dummy prefix),
  // then one token per UTF-8 codepoint (its byte tokens when the codepoint is not in the vocab),
  // then repeatedly the adjacent pair whose concatenation is the highest-scoring vocab entry is
  // merged (the first such pair on ties); then [EOS].
  std::vector<int> encode(std::string_view text, bool bos, bool eos) const;

  // run.c's decode: the bytes of `token` as they continue the text after `prev_token`: a leading
  // space is dropped after BOS, and "<0xXX>" tokens give their raw byte. Throws InputError for an
  // out-of-range `token` (prev_token is only compared with BOS).
  std::string decode_piece(int prev_token, int token) const;

  const std::string& piece(
      int token) const;  // the vocab entry as stored; InputError if out of range
  float score(int token) const;
  int size() const { return static_cast<int>(pieces_.size()); }
  int max_token_length() const { return max_token_length_; }

 private:
  int lookup(std::string_view s) const;  // -1 when not in the vocab
  void check(int token) const;

  std::string path_;
  int max_token_length_ = 0;
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  // Hashes std::string and std::string_view alike, so lookups need no copy.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int, Hash, std::equal_to<>> ids_;  // the first id of each piece
};

}  // namespace seedchip::llm
