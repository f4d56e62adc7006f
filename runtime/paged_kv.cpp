#include "runtime/paged_kv.h"

#include <algorithm>
#include <functional>

#include "arch/error.h"

namespace seedchip::runtime {

PagedKvCache::PagedKvCache(int64_t pages, int64_t page_rows) : page_rows_(page_rows) {
  if (pages < 1 || page_rows < 1)
    throw InputError("paged KV cache: " + std::to_string(pages) + " pages of " +
                     std::to_string(page_rows) + " rows; expected at least 1 of each");
  owner_.assign(static_cast<size_t>(pages), -1);
  for (int64_t p = pages - 1; p >= 0; --p) free_.push_back(p);  // back() is the lowest
}

int PagedKvCache::add_sequence() {
  sequences_.push_back({true, 0, {}});
  return static_cast<int>(sequences_.size() - 1);
}

const PagedKvCache::Sequence& PagedKvCache::live(int sequence) const {
  if (sequence < 0 || sequence >= static_cast<int>(sequences_.size()) ||
      !sequences_[static_cast<size_t>(sequence)].live)
    throw InputError("paged KV cache: sequence " + std::to_string(sequence) + " does not exist");
  return sequences_[static_cast<size_t>(sequence)];
}

void PagedKvCache::release(int sequence) {
  live(sequence);
  Sequence& s = sequences_[static_cast<size_t>(sequence)];
  for (int64_t page : s.pages) {
    owner_[static_cast<size_t>(page)] = -1;
    free_.push_back(page);
  }
  std::sort(free_.begin(), free_.end(), std::greater<>());
  s = {};
}

int64_t PagedKvCache::append(int sequence, int64_t pos) {
  live(sequence);
  Sequence& s = sequences_[static_cast<size_t>(sequence)];
  if (pos != s.length)
    throw InputError("paged KV cache: sequence " + std::to_string(sequence) + " holds positions 0.." +
                     std::to_string(s.length - 1) + "; position " + std::to_string(pos) +
                     " is not the next one");
  if (pos % page_rows_ == 0) {
    if (free_.empty())
      throw InputError("paged KV cache: out of pages: all " + std::to_string(pages()) +
                       " pages of " + std::to_string(page_rows_) + " rows (" +
                       std::to_string(pool_rows()) + " positions) are taken; sequence " +
                       std::to_string(sequence) + " needs one more for position " +
                       std::to_string(pos));
    s.pages.push_back(free_.back());
    owner_[static_cast<size_t>(free_.back())] = sequence;
    free_.pop_back();
  }
  ++s.length;
  return s.pages.back() * page_rows_ + pos % page_rows_;
}

std::vector<int32_t> PagedKvCache::rows(int sequence, int64_t context) const {
  const Sequence& s = live(sequence);
  std::vector<int32_t> out(static_cast<size_t>(context), 0);
  for (int64_t p = 0; p < std::min(context, s.length); ++p)
    out[static_cast<size_t>(p)] =
        static_cast<int32_t>(s.pages[static_cast<size_t>(p / page_rows_)] * page_rows_ +
                             p % page_rows_);
  return out;
}

}  // namespace seedchip::runtime
