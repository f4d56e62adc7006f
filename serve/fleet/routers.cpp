// The routers, registered by name.
#include "arch/error.h"
#include "serve/fleet/fleet.h"

namespace seedchip::serve {

namespace {

// The instance with the fewest outstanding tokens, the lowest number on a tie.
size_t least_outstanding(const FleetView& fleet) {
  size_t best = 0;
  for (size_t i = 1; i < fleet.size(); ++i)
    if (fleet.outstanding_tokens(i) < fleet.outstanding_tokens(best)) best = i;
  return best;
}

class RoundRobinRouter : public Router {
 public:
  size_t route(const Request&, const FleetView& fleet) override { return next_++ % fleet.size(); }

 private:
  size_t next_ = 0;
};

class LeastOutstandingRouter : public Router {
 public:
  size_t route(const Request&, const FleetView& fleet) override { return least_outstanding(fleet); }
};

// Where the request's prefix is cached its prefill is shortest (as SGLang's cache-aware router
// and Mooncake's KV-centric scheduler route); among equals, the least loaded.
class PrefixAffinityRouter : public Router {
 public:
  size_t route(const Request& q, const FleetView& fleet) override {
    if (q.hash_ids.empty()) return least_outstanding(fleet);
    size_t best = 0;
    int64_t longest = fleet.cached_prefix(0, q);
    for (size_t i = 1; i < fleet.size(); ++i) {
      const int64_t cached = fleet.cached_prefix(i, q);
      if (cached > longest ||
          (cached == longest && fleet.outstanding_tokens(i) < fleet.outstanding_tokens(best))) {
        best = i;
        longest = cached;
      }
    }
    return best;
  }
};

}  // namespace

const std::map<std::string, RouterInfo>& routers() {
  static const std::map<std::string, RouterInfo> table = {
      {"round-robin",
       {"request k to instance k mod N, whatever their load",
        [] { return std::make_unique<RoundRobinRouter>(); }}},
      {"least-outstanding-tokens",
       {"the instance with the fewest tokens still to prefill and generate",
        [] { return std::make_unique<LeastOutstandingRouter>(); }}},
      {"prefix-affinity",
       {"the instance caching the longest prefix of the request's blocks (hash_ids; needs "
        "--prefix-caching), then the fewest outstanding tokens",
        [] { return std::make_unique<PrefixAffinityRouter>(); }}}};
  return table;
}

std::unique_ptr<Router> make_router(const std::string& name) {
  const auto it = routers().find(name);
  if (it == routers().end()) {
    std::string known;
    for (const auto& [n, info] : routers()) known += (known.empty() ? "" : ", ") + n;
    throw InputError("unknown router '" + name + "' (known: " + known + ")");
  }
  return it->second.make();
}

}  // namespace seedchip::serve
