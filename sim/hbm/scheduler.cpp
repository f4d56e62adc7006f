#include "sim/hbm/scheduler.h"

#include <functional>

#include "arch/error.h"

namespace seedchip::sim {

namespace {

class FcfsScheduler : public HbmScheduler {
 public:
  bool before(const HbmCandidate& a, const HbmCandidate& b) const override {
    return a.arrival < b.arrival;
  }
};

// First-ready FCFS (Rixner et al., ISCA 2000): row hits first, then requests whose bank can take
// their next command now, then the oldest.
class FrFcfsScheduler : public HbmScheduler {
 public:
  bool before(const HbmCandidate& a, const HbmCandidate& b) const override {
    if (a.row_hit != b.row_hit) return a.row_hit;
    if (a.bank_ready != b.bank_ready) return a.bank_ready;
    return a.arrival < b.arrival;
  }
};

struct Registered {
  HbmSchedulerInfo info;
  std::function<std::unique_ptr<HbmScheduler>()> make;
};

const std::vector<Registered>& registry() {
  static const std::vector<Registered> schedulers = {
      {{"frfcfs", "row hits first, then requests whose bank is ready, then oldest first"},
       [] { return std::make_unique<FrFcfsScheduler>(); }},
      {{"fcfs", "oldest first"}, [] { return std::make_unique<FcfsScheduler>(); }},
  };
  return schedulers;
}

}  // namespace

std::vector<HbmSchedulerInfo> hbm_schedulers() {
  std::vector<HbmSchedulerInfo> out;
  for (const Registered& r : registry()) out.push_back(r.info);
  return out;
}

std::unique_ptr<HbmScheduler> make_hbm_scheduler(const std::string& name) {
  std::string names;
  for (const Registered& r : registry()) {
    if (r.info.name == name) return r.make();
    names += (names.empty() ? "" : ", ") + r.info.name;
  }
  throw InputError("hbm.scheduler: unknown scheduler '" + name + "'; expected one of: " + names);
}

}  // namespace seedchip::sim
