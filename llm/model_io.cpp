#include "llm/model_io.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "arch/error.h"

namespace seedchip::llm {

void fail(const std::string& path, const std::string& what) {
  throw InputError(path + ": " + what);
}

MappedFile map_file(const std::string& path, int64_t min_size, const std::string& header) {
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
  MappedFile f;
  f.size = st.st_size;
  // Also keeps empty files away from mmap, which refuses a zero length.
  if (f.size < min_size || f.size == 0) {
    ::close(fd);
    fail(path, "file is " + std::to_string(f.size) + " bytes, too short for the " + header);
  }
  void* p = ::mmap(nullptr, static_cast<size_t>(f.size), PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);  // the mapping stays valid without the descriptor
  if (p == MAP_FAILED) fail(path, std::string("cannot map: ") + std::strerror(err));
  const size_t len = static_cast<size_t>(f.size);
  f.mapping =
      std::shared_ptr<const void>(p, [len](const void* q) { ::munmap(const_cast<void*>(q), len); });
  f.bytes = static_cast<const uint8_t*>(p);
  return f;
}

namespace {

void check_range(const std::string& path, const std::string& field, int64_t value, int64_t max) {
  if (value < 1 || value > max)
    fail(path, field + " is " + std::to_string(value) + ", expected 1.." + std::to_string(max));
}

}  // namespace

void check_config(const std::string& path, const LlamaConfig& c, const ConfigFieldNames& n) {
  check_range(path, n.prefix + n.dim, c.dim, kMaxDim);
  check_range(path, n.prefix + n.hidden_dim, c.hidden_dim, kMaxHidden);
  check_range(path, n.prefix + n.n_layers, c.n_layers, kMaxLayers);
  check_range(path, n.prefix + n.n_heads, c.n_heads, c.dim);
  check_range(path, n.prefix + n.n_kv_heads, c.n_kv_heads, c.n_heads);
  check_range(path, n.prefix + n.vocab_size, c.vocab_size, kMaxVocab);
  check_range(path, n.prefix + n.seq_len, c.seq_len, kMaxSeqLen);
  // An explicit head width (Qwen3's head_dim) makes the attention width its own.
  if (!c.explicit_head_dim && c.dim % c.n_heads != 0)
    fail(path, n.prefix + n.dim + " " + std::to_string(c.dim) + " is not a multiple of " +
                   n.n_heads + " " + std::to_string(c.n_heads));
  if (c.n_heads % c.n_kv_heads != 0)
    fail(path, n.prefix + n.n_heads + " " + std::to_string(c.n_heads) + " is not a multiple of " +
                   n.n_kv_heads + " " + std::to_string(c.n_kv_heads));
  // RoPE rotates pairs of dimensions within a head.
  if (c.head_dim() % 2 != 0)
    fail(path, "head dimension " +
                   (c.explicit_head_dim ? std::string() : n.dim + " / " + n.n_heads + " = ") +
                   std::to_string(c.head_dim()) + " is odd, expected even for RoPE");
}

void check_experts(const std::string& path, const LlamaConfig& c, const std::string& experts_key,
                   const std::string& used_key) {
  if (c.n_experts < 0 || c.n_experts > kMaxExperts)
    fail(path, experts_key + " is " + std::to_string(c.n_experts) + ", expected 0.." +
                   std::to_string(kMaxExperts));
  if (c.n_experts > 0) check_range(path, used_key, c.experts_per_token, c.n_experts);
}

void set_head_dim(const std::string& path, LlamaConfig& c, int64_t head_dim,
                  const std::string& key) {
  check_range(path, key, head_dim, kMaxDim);
  // n_heads is checked later (check_config); do not divide by a bad one here.
  const bool implied = c.n_heads > 0 && c.dim % c.n_heads == 0 && head_dim == c.dim / c.n_heads;
  c.explicit_head_dim = implied ? 0 : head_dim;
}

std::span<float> ModelStorage::own(LlamaModel& m, size_t n) {
  if (!m.owned_) m.owned_ = std::make_shared<std::vector<std::vector<float>>>();
  // Moving the inner vectors when the outer one grows keeps their heap buffers where they are.
  m.owned_->emplace_back(n);
  return m.owned_->back();
}

}  // namespace seedchip::llm
