#pragma once
// The page table of a paged KV cache (as vLLM's PagedAttention keeps it): the K and V pools in the
// chip's HBM are split into pages of `page_rows` rows, and each sequence owns the pages its
// positions have reached, in order, taken from a free list as it grows and returned when it ends.
// Position p of a sequence lives in pool row pages[p / page_rows] * page_rows + p % page_rows. The
// pools themselves are graph inputs compiled in place (llm/llama_graph.h); this class only decides
// the rows, on the host, as a serving runtime's block manager does.
#include <cstdint>
#include <string>
#include <vector>

namespace seedchip::runtime {

class PagedKvCache {
 public:
  // InputError unless pages >= 1 and page_rows >= 1.
  PagedKvCache(int64_t pages, int64_t page_rows);

  // A new, empty sequence; its id stays valid until release().
  int add_sequence();
  // Returns the sequence's pages to the free list.
  void release(int sequence);

  // The pool row of position `pos`, taking a page from the free list when `pos` starts one.
  // Positions must grow by one from 0 (a sequence's cache holds 0..pos). InputError when the pool
  // has no free page, with the numbers, or for a position that skips ahead.
  int64_t append(int sequence, int64_t pos);

  // The rows of positions 0..context-1 of the sequence; positions it has not reached read row 0
  // (attention masks them).
  std::vector<int32_t> rows(int sequence, int64_t context) const;

  // Positions the sequence holds (0 when new).
  int64_t length(int sequence) const { return live(sequence).length; }

  int64_t pages() const { return static_cast<int64_t>(owner_.size()); }
  int64_t page_rows() const { return page_rows_; }
  int64_t pool_rows() const { return pages() * page_rows_; }
  int64_t free_pages() const { return static_cast<int64_t>(free_.size()); }

 private:
  struct Sequence {
    bool live = false;
    int64_t length = 0;  // positions held
    std::vector<int64_t> pages;
  };
  const Sequence& live(int sequence) const;

  int64_t page_rows_;
  std::vector<int> owner_;     // per page: the sequence holding it, -1 when free
  std::vector<int64_t> free_;  // free pages, the lowest number taken first
  std::vector<Sequence> sequences_;
};

}  // namespace seedchip::runtime
