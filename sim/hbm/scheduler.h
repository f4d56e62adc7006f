#pragma once
// Request scheduler policy of a pseudo-channel controller: a strict order over queued requests.
// It only ranks; it must not look at or change controller state. Registered by name
// (hbm.scheduler).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace seedchip::sim {

struct HbmCandidate {
  bool row_hit = false;     // its row is open in its bank now
  bool bank_ready = false;  // its first command (PRE, ACT or column) may issue now
  uint64_t arrival = 0;     // submission order, unique per controller
};

class HbmScheduler {
 public:
  virtual ~HbmScheduler() = default;
  virtual bool before(const HbmCandidate& a, const HbmCandidate& b) const = 0;
};

struct HbmSchedulerInfo {
  std::string name;
  std::string description;
};

std::vector<HbmSchedulerInfo> hbm_schedulers();
// InputError naming hbm.scheduler and listing the registered names when `name` is unknown.
std::unique_ptr<HbmScheduler> make_hbm_scheduler(const std::string& name);

}  // namespace seedchip::sim
