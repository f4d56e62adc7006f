#include "llm/llama2c.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "arch/error.h"

namespace seedchip::llm {

namespace {

constexpr uint32_t kV1Magic = 0x616b3432;  // "ak42" read as a little-endian uint32
constexpr int64_t kLegacyHeaderBytes = 7 * 4;
constexpr int64_t kV1HeaderBytes = 256;

// Generous bounds that keep every size product below 2^62, so the size arithmetic cannot
// overflow, while admitting any llama2.c model that exists (Llama 2 70B: dim 8192, hidden 28672,
// 80 layers, vocab 32000).
constexpr int64_t kMaxDim = 1 << 16;
constexpr int64_t kMaxHidden = 1 << 20;
constexpr int64_t kMaxLayers = 1 << 10;
constexpr int64_t kMaxVocab = 1 << 22;
constexpr int64_t kMaxSeqLen = 1 << 22;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw InputError(path + ": " + what);
}

int32_t read_i32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void check_range(const std::string& path, const char* field, int64_t value, int64_t max) {
  if (value < 1 || value > max)
    fail(path, std::string("header field ") + field + " is " + std::to_string(value) +
                   ", expected 1.." + std::to_string(max));
}

// Read-only mapping of a whole file; the shared_ptr's deleter unmaps it.
std::shared_ptr<const void> map_file(const std::string& path, int64_t& size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    fail(path, std::string("cannot stat: ") + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "not a regular file");
  }
  size = st.st_size;
  if (size < kLegacyHeaderBytes) {
    ::close(fd);
    fail(path, "file is " + std::to_string(size) + " bytes, too short for the " +
                   std::to_string(kLegacyHeaderBytes) + "-byte llama2.c header");
  }
  void* p = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);  // the mapping stays valid without the descriptor
  if (p == MAP_FAILED) fail(path, std::string("cannot map: ") + std::strerror(err));
  const size_t len = static_cast<size_t>(size);
  return std::shared_ptr<const void>(p,
                                     [len](const void* q) { ::munmap(const_cast<void*>(q), len); });
}

// Hands out consecutive spans of the weight area in file order.
class Cursor {
 public:
  explicit Cursor(const float* at) : at_(at) {}
  std::span<const float> take(int64_t n) {
    std::span<const float> s(at_, static_cast<size_t>(n));
    at_ += n;
    return s;
  }
  void skip(int64_t n) { at_ += n; }

 private:
  const float* at_;
};

}  // namespace

LlamaModel load_llama2c(const std::string& path) {
  LlamaModel m;
  m.path = path;
  int64_t size = 0;
  m.mapping_ = map_file(path, size);
  const auto* bytes = static_cast<const uint8_t*>(m.mapping_.get());

  const bool v1 = static_cast<uint32_t>(read_i32(bytes)) == kV1Magic;
  int64_t header_bytes = kLegacyHeaderBytes;
  const uint8_t* fields = bytes;
  if (v1) {
    header_bytes = kV1HeaderBytes;
    if (size < header_bytes)
      fail(path, "file is " + std::to_string(size) +
                     " bytes, too short for the 256-byte llama2.c version-1 header");
    const int32_t version = read_i32(bytes + 4);
    if (version != 1)
      fail(path, "header field version is " + std::to_string(version) + ", expected 1");
    fields = bytes + 8;
  }

  LlamaConfig& c = m.config;
  c.dim = read_i32(fields);
  c.hidden_dim = read_i32(fields + 4);
  c.n_layers = read_i32(fields + 8);
  c.n_heads = read_i32(fields + 12);
  c.n_kv_heads = read_i32(fields + 16);
  c.vocab_size = read_i32(fields + 20);
  c.seq_len = read_i32(fields + 24);
  if (v1) {
    const uint8_t shared = fields[28];
    if (shared > 1)
      fail(path,
           "header field shared_classifier is " + std::to_string(shared) + ", expected 0 or 1");
    c.shared_classifier = shared == 1;
  } else {
    // The legacy format has no flag: the sign of vocab_size carries it.
    c.shared_classifier = c.vocab_size > 0;
    if (c.vocab_size < 0) c.vocab_size = -c.vocab_size;
  }

  check_range(path, "dim", c.dim, kMaxDim);
  check_range(path, "hidden_dim", c.hidden_dim, kMaxHidden);
  check_range(path, "n_layers", c.n_layers, kMaxLayers);
  check_range(path, "n_heads", c.n_heads, c.dim);
  check_range(path, "n_kv_heads", c.n_kv_heads, c.n_heads);
  check_range(path, "vocab_size", c.vocab_size, kMaxVocab);
  check_range(path, "seq_len", c.seq_len, kMaxSeqLen);
  if (c.dim % c.n_heads != 0)
    fail(path, "header field dim " + std::to_string(c.dim) + " is not a multiple of n_heads " +
                   std::to_string(c.n_heads));
  if (c.n_heads % c.n_kv_heads != 0)
    fail(path, "header field n_heads " + std::to_string(c.n_heads) +
                   " is not a multiple of n_kv_heads " + std::to_string(c.n_kv_heads));
  // RoPE rotates pairs of dimensions within a head.
  if (c.head_dim() % 2 != 0)
    fail(path, "head dimension dim / n_heads = " + std::to_string(c.head_dim()) +
                   " is odd, expected even for RoPE");

  const int64_t d = c.dim, h = c.hidden_dim, L = c.n_layers, kv = c.kv_dim();
  const int64_t per_layer = d + d * d + 2 * kv * d + d * d + d + 3 * h * d;
  int64_t floats = c.vocab_size * d + L * per_layer + d;
  if (!v1) floats += c.seq_len * c.head_dim();  // freq_cis_real and freq_cis_imag, unused
  if (!c.shared_classifier) floats += c.vocab_size * d;
  const int64_t expected = header_bytes + floats * 4;
  if (size != expected)
    fail(path, "file is " + std::to_string(size) + " bytes, expected " + std::to_string(expected) +
                   " for a " + (v1 ? "version-1" : "legacy") + " llama2.c checkpoint with dim " +
                   std::to_string(d) + ", hidden_dim " + std::to_string(h) + ", n_layers " +
                   std::to_string(L) + ", n_heads " + std::to_string(c.n_heads) + ", n_kv_heads " +
                   std::to_string(c.n_kv_heads) + ", vocab_size " + std::to_string(c.vocab_size) +
                   ", seq_len " + std::to_string(c.seq_len) +
                   (c.shared_classifier ? ", shared classifier" : ", own classifier"));

  // Both header sizes are multiples of 4 and mmap is page-aligned, so the floats are aligned.
  Cursor cur(reinterpret_cast<const float*>(bytes + header_bytes));
  LlamaWeights& w = m.weights;
  w.layers.resize(static_cast<size_t>(L));
  const auto each_layer = [&](std::span<const float> LlamaLayer::*field, int64_t n) {
    for (LlamaLayer& layer : w.layers) layer.*field = cur.take(n);
  };
  if (v1) {
    each_layer(&LlamaLayer::rms_att, d);
    each_layer(&LlamaLayer::rms_ffn, d);
    w.rms_final = cur.take(d);
    w.token_embedding = cur.take(c.vocab_size * d);
    each_layer(&LlamaLayer::wq, d * d);
    each_layer(&LlamaLayer::wk, kv * d);
    each_layer(&LlamaLayer::wv, kv * d);
    each_layer(&LlamaLayer::wo, d * d);
    each_layer(&LlamaLayer::w1, h * d);
    each_layer(&LlamaLayer::w2, d * h);
    each_layer(&LlamaLayer::w3, h * d);
  } else {
    w.token_embedding = cur.take(c.vocab_size * d);
    each_layer(&LlamaLayer::rms_att, d);
    each_layer(&LlamaLayer::wq, d * d);
    each_layer(&LlamaLayer::wk, kv * d);
    each_layer(&LlamaLayer::wv, kv * d);
    each_layer(&LlamaLayer::wo, d * d);
    each_layer(&LlamaLayer::rms_ffn, d);
    each_layer(&LlamaLayer::w1, h * d);
    each_layer(&LlamaLayer::w2, d * h);
    each_layer(&LlamaLayer::w3, h * d);
    w.rms_final = cur.take(d);
    cur.skip(c.seq_len * c.head_dim());
  }
  w.classifier = c.shared_classifier ? w.token_embedding : cur.take(c.vocab_size * d);
  return m;
}

}  // namespace seedchip::llm
