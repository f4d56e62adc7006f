#include "llm/tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/input_error.h"
#include "tests/llm/llm_test_util.h"

namespace seedchip::llm {
namespace {

using seedchip::testing::error_of;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace seedchip::llm::testing;

// The text run.c prints for `tokens` (which start with BOS).
std::string decode_all(const Tokenizer& t, const std::vector<int>& tokens) {
  std::string text;
  for (size_t i = 1; i < tokens.size(); ++i) text += t.decode_piece(tokens[i - 1], tokens[i]);
  return text;
}

TEST(Tokenizer, LoadsTok512) {
  const Tokenizer t = Tokenizer::load(kTok512);
  EXPECT_EQ(t.size(), 512);
  EXPECT_EQ(t.max_token_length(), 7);
  EXPECT_EQ(t.piece(0), "<unk>");
  EXPECT_EQ(t.piece(Tokenizer::kBos), "\n<s>\n");
  EXPECT_EQ(t.piece(Tokenizer::kEos), "\n</s>\n");
  EXPECT_EQ(t.piece(3), "<0x00>");
  EXPECT_EQ(t.piece(258), "<0xFF>");
  EXPECT_EQ(t.piece(259), " t");  // the first merge, score 0
  EXPECT_EQ(t.score(259), 0.0f);
  EXPECT_EQ(t.score(260), -1.0f);
}

// Expected ids worked out from tok512's vocabulary with run.c's algorithm: " " (410) is
// prepended, each codepoint becomes its token ("é" is 485; "🙂" is not in the vocab, so its four
// UTF-8 bytes become byte tokens 0xF0 + 3 = 243, ...), then the best-scoring merges win:
// " " + "O" ... -> " Once" (403), " upon" (407), " a" (261), " time" (378).
TEST(Tokenizer, EncodesAsRunC) {
  const Tokenizer t = Tokenizer::load(kTok512);
  EXPECT_THAT(t.encode("Once upon a time", true, false), ElementsAre(1, 403, 407, 261, 378));
  EXPECT_THAT(t.encode("Once upon a time", false, true), ElementsAre(403, 407, 261, 378, 2));
  EXPECT_THAT(t.encode("Lily's mom said, \"Hi!\"", true, false),
              ElementsAre(1, 317, 439, 419, 357, 336, 432, 313, 440, 417, 443, 436));
  EXPECT_THAT(t.encode("h\xC3\xA9llo \xF0\x9F\x99\x82", true, false),
              ElementsAre(1, 270, 485, 306, 414, 410, 243, 162, 156, 133));
  EXPECT_THAT(t.encode("", true, false), ElementsAre(1));  // no dummy prefix for empty text
  EXPECT_THAT(t.encode("", false, false), ElementsAre());
  EXPECT_THAT(t.encode("a", true, true), ElementsAre(1, 261, 2));
}

TEST(Tokenizer, DecodeInvertsEncode) {
  const Tokenizer t = Tokenizer::load(kTok512);
  for (const std::string text :
       {"Once upon a time", "Lily's mom said, \"Hi!\"", "h\xC3\xA9llo \xF0\x9F\x99\x82",
        "One day, she saw a big, red ball.\nShe wanted to play with it.", "  two spaces",
        "tabs\tand 123 numbers", "~{}|`"}) {
    EXPECT_EQ(decode_all(t, t.encode(text, true, false)), text) << text;
  }
}

TEST(Tokenizer, DecodeStripsTheSpaceAfterBosAndDecodesBytes) {
  const Tokenizer t = Tokenizer::load(kTok512);
  EXPECT_EQ(t.decode_piece(Tokenizer::kBos, 403), "Once");
  EXPECT_EQ(t.decode_piece(378, 403), " Once");
  EXPECT_EQ(t.decode_piece(Tokenizer::kBos, 410), "");  // " " after BOS
  EXPECT_EQ(t.decode_piece(5, 3 + 'A'), "A");           // <0x41>
  EXPECT_EQ(t.decode_piece(5, 3 + 0xF0), "\xF0");
  EXPECT_EQ(t.decode_piece(5, 13), "\n");  // <0x0A>
  EXPECT_EQ(t.decode_piece(5, 0), "<unk>");
}

TEST(Tokenizer, OutOfRangeTokensRaiseInputError) {
  const Tokenizer t = Tokenizer::load(kTok512);
  EXPECT_THAT(error_of([&] { t.decode_piece(1, 512); }),
              AllOf(HasSubstr(kTok512), HasSubstr("token id 512 out of range, expected 0..511")));
  EXPECT_THAT(error_of([&] { t.decode_piece(1, -1); }), HasSubstr("token id -1"));
  EXPECT_THAT(error_of([&] { t.piece(600); }), HasSubstr("token id 600"));
}

TEST(Tokenizer, BadFilesRaiseInputErrorNamingTheFile) {
  const std::vector<char> good = read_bytes(kTok512);

  const std::string missing = ::testing::TempDir() + "seedchip_llm_no_such_tok.bin";
  EXPECT_THAT(error_of([&] { Tokenizer::load(missing); }),
              AllOf(HasSubstr(missing), HasSubstr("cannot open")));

  const std::string empty = write_temp("tok_empty.bin", {});
  EXPECT_THAT(error_of([&] { Tokenizer::load(empty); }),
              AllOf(HasSubstr(empty), HasSubstr("max_token_length")));

  // Cut inside token 300's bytes: 4 + 8 * 300 + the pieces before it + 1.
  const Tokenizer t = Tokenizer::load(kTok512);
  size_t at = 4;
  for (int i = 0; i < 300; ++i) at += 8 + t.piece(i).size();
  const std::string cut = write_temp(
      "tok_cut.bin",
      std::vector<char>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(at) + 9));
  EXPECT_THAT(error_of([&] { Tokenizer::load(cut); }),
              AllOf(HasSubstr(cut), HasSubstr("truncated in token 300")));
  const std::string cut_score = write_temp(
      "tok_cut_score.bin",
      std::vector<char>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(at) + 2));
  EXPECT_THAT(error_of([&] { Tokenizer::load(cut_score); }),
              AllOf(HasSubstr(cut_score), HasSubstr("token 300 score")));

  std::vector<char> garbled = good;
  put_i32(garbled, at + 4, -5);
  const std::string neg = write_temp("tok_neg.bin", garbled);
  EXPECT_THAT(error_of([&] { Tokenizer::load(neg); }),
              AllOf(HasSubstr(neg), HasSubstr("token 300 length is -5")));
  put_i32(garbled, at + 4, 1000);
  const std::string big = write_temp("tok_big.bin", garbled);
  EXPECT_THAT(error_of([&] { Tokenizer::load(big); }),
              AllOf(HasSubstr(big), HasSubstr("token 300 length is 1000")));

  std::vector<char> bad_max = good;
  put_i32(bad_max, 0, 0);
  const std::string zero = write_temp("tok_zero.bin", bad_max);
  EXPECT_THAT(error_of([&] { Tokenizer::load(zero); }),
              AllOf(HasSubstr(zero), HasSubstr("max_token_length is 0")));

  // Whole tokens, but too few for the byte tokens.
  size_t at100 = 4;
  for (int i = 0; i < 100; ++i) at100 += 8 + t.piece(i).size();
  const std::string few = write_temp(
      "tok_few.bin",
      std::vector<char>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(at100)));
  EXPECT_THAT(error_of([&] { Tokenizer::load(few); }),
              AllOf(HasSubstr(few), HasSubstr("has 100 tokens, expected at least 259")));
}

}  // namespace
}  // namespace seedchip::llm
