#include "sim/hbm/hbm_system.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <vector>

#include "arch/error.h"
#include "sim/hbm/address_mapping.h"
#include "sim/hbm/hbm_timing.h"
#include "sim/hbm/scheduler.h"

namespace seedchip::sim {

namespace {

constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

struct Pending {
  HbmRequest request;
  HbmAddress where;
  uint32_t bursts = 0;
  uint64_t arrival = 0;
};

struct PcStats {
  uint64_t* reads;
  uint64_t* writes;
  uint64_t* bytes;
  uint64_t* row_hits;
  uint64_t* row_misses;
  uint64_t* row_conflicts;
  uint64_t* activates;
  uint64_t* precharges;
  uint64_t* refreshes;
  uint64_t* busy_cycles;
  uint64_t* queue_full;
};

// One pseudo-channel: read and write queues in front of HbmChannelTiming. Each wake-up event picks
// a batch (at most one request per bank group, ranked by the scheduler), places every command of
// the batch at its earliest legal cycle, and schedules one completion event per request.
class HbmController {
 public:
  HbmController(const HbmConfig& config, EventQueue& events, const ClockDomain& clock,
                const HbmScheduler& scheduler, PcStats stats, double& last_cycle,
                TraceWriter* trace, int trace_pid, int trace_tid, std::string trace_label,
                std::function<void()> notify_space)
      : config_(config),
        events_(events),
        clock_(clock),
        scheduler_(scheduler),
        timing_(config),
        stats_(stats),
        last_cycle_(last_cycle),
        trace_(trace),
        trace_pid_(trace_pid),
        trace_tid_(trace_tid),
        trace_label_(std::move(trace_label)),
        notify_space_(std::move(notify_space)),
        per_bank_refresh_(config.refresh == "per-bank"),
        bank_count_(static_cast<int>(config.bank_groups * config.banks_per_group)),
        refresh_interval_(static_cast<uint64_t>(std::max<int64_t>(
            1, per_bank_refresh_ ? config.timing.tREFI / bank_count_ : config.timing.tREFI))),
        next_refresh_(refresh_interval_),
        lookahead_(
            static_cast<uint64_t>(config.timing.tRP + config.timing.tRCD + config.timing.tFAW)),
        act_lookahead_(static_cast<uint64_t>(config.timing.tRP)) {}

  bool submit(Pending pending) {
    auto& queue = pending.request.is_write ? writes_ : reads_;
    const auto limit =
        static_cast<size_t>(pending.request.is_write ? config_.write_queue : config_.read_queue);
    if (queue.size() >= limit) {
      ++*stats_.queue_full;
      rejected_ = true;
      return false;
    }
    pending.arrival = next_arrival_++;
    queue.push_back(std::move(pending));
    request_wake(std::max(now_cycle(), decision_floor()));
    return true;
  }

  // Refreshes due up to `cycle` are issued, so an idle controller's refresh count is current.
  void catch_up_refresh(uint64_t cycle) {
    const uint64_t keep = per_bank_refresh_ ? static_cast<uint64_t>(bank_count_) : 1;
    while (next_refresh_ <= cycle) {
      // A long idle stretch: refreshes before the last round leave no trace in the bank state.
      const uint64_t due = (cycle - next_refresh_) / refresh_interval_ + 1;
      if (due > keep) {
        const uint64_t skipped = due - keep;
        *stats_.refreshes += skipped;
        next_refresh_ += skipped * refresh_interval_;
        refresh_bank_ = static_cast<int>((refresh_bank_ + skipped) % bank_count_);
        continue;
      }
      refresh(next_refresh_);
      next_refresh_ += refresh_interval_;
    }
  }

 private:
  uint64_t now_cycle() const { return clock_.cycle_at(clock_.next_edge(events_.now())); }
  // The next batch is decided `lookahead_` cycles before the data bus frees, so its PRE/ACTs
  // overlap the current transfer, but no earlier than tRP before the last ACT placed: deciding
  // further ahead would judge bank readiness long before the ACT slot it is for.
  uint64_t decision_floor() const {
    const uint64_t bus = last_column_ > lookahead_ ? last_column_ - lookahead_ : 0;
    const uint64_t act = last_act_ > act_lookahead_ ? last_act_ - act_lookahead_ : 0;
    return std::max(bus, act);
  }

  uint64_t join_horizon(uint64_t cycle) const {
    return std::max(cycle, last_column_ + static_cast<uint64_t>(config_.timing.tRTP));
  }

  void request_wake(uint64_t cycle) {
    if (wake_cycle_ <= cycle) return;
    wake_cycle_ = cycle;
    events_.schedule(clock_.ticks(cycle), [this, cycle] {
      if (wake_cycle_ == cycle) wake(cycle);
    });
  }

  void precharge(int bank_group, int bank, uint64_t not_before) {
    const uint64_t at = std::max(not_before, timing_.earliest(HbmCommand::kPre, bank_group, bank));
    timing_.issue(HbmCommand::kPre, bank_group, bank, HbmChannelTiming::kNoRow, at);
    ++*stats_.precharges;
  }

  void refresh(uint64_t due) {
    ++*stats_.refreshes;
    uint64_t at;
    if (per_bank_refresh_) {
      const int group = refresh_bank_ / static_cast<int>(config_.banks_per_group);
      const int bank = refresh_bank_ % static_cast<int>(config_.banks_per_group);
      refresh_bank_ = (refresh_bank_ + 1) % bank_count_;
      if (timing_.open_row(group, bank) != HbmChannelTiming::kNoRow) precharge(group, bank, due);
      at = std::max(due, timing_.earliest(HbmCommand::kRefPb, group, bank));
      timing_.issue(HbmCommand::kRefPb, group, bank, HbmChannelTiming::kNoRow, at);
    } else {
      for (int group = 0; group < timing_.bank_groups(); ++group)
        for (int bank = 0; bank < timing_.banks_per_group(); ++bank)
          if (timing_.open_row(group, bank) != HbmChannelTiming::kNoRow)
            precharge(group, bank, due);
      at = std::max(due, timing_.earliest(HbmCommand::kRefAb, 0, 0));
      timing_.issue(HbmCommand::kRefAb, 0, 0, HbmChannelTiming::kNoRow, at);
    }
    if (trace_)
      trace_->span(trace_pid_, trace_tid_, trace_label_ + " refresh", clock_.ticks(at),
                   clock_.ticks(static_cast<uint64_t>(per_bank_refresh_ ? config_.timing.tRFCpb
                                                                        : config_.timing.tRFC)));
  }

  std::vector<Pending>& pick_queue() {
    if (writes_.size() >= static_cast<size_t>(config_.write_drain_high)) draining_ = true;
    if (draining_ && writes_.size() <= static_cast<size_t>(config_.write_drain_low))
      draining_ = false;
    if (writes_.empty()) return reads_;
    return draining_ || reads_.empty() ? writes_ : reads_;
  }

  HbmCommand first_command(const Pending& p) const {
    const int64_t open = timing_.open_row(p.where.bank_group, p.where.bank);
    if (open == p.where.row) return p.request.is_write ? HbmCommand::kWr : HbmCommand::kRd;
    return open == HbmChannelTiming::kNoRow ? HbmCommand::kAct : HbmCommand::kPre;
  }

  HbmCandidate candidate(const Pending& p, uint64_t cycle) const {
    const HbmCommand first = first_command(p);
    const bool hit = first == HbmCommand::kRd || first == HbmCommand::kWr;
    return {hit, timing_.earliest(first, p.where.bank_group, p.where.bank) <= cycle, p.arrival};
  }

  void wake(uint64_t cycle) {
    wake_cycle_ = kNever;
    catch_up_refresh(cycle);
    std::vector<Pending>& queue = pick_queue();
    if (!queue.empty()) {
      std::vector<Pending>& batch = take_batch(queue, cycle);
      place(batch, cycle);
    }
    if (!reads_.empty() || !writes_.empty()) request_wake(std::max(cycle + 1, decision_floor()));
    if (rejected_) {
      rejected_ = false;
      notify_space_();
    }
  }

  // The best request of each bank group, best first. Besides the overall best, only requests that
  // can start by the time the data bus frees join (a row hit, or a bank whose PRE or ACT may issue
  // by then, tRTP after the last read counted, so a bank that finishes with the current transfer
  // qualifies): one that must wait longer for its bank would hold back every later ACT.
  std::vector<Pending>& take_batch(std::vector<Pending>& queue, uint64_t cycle) {
    auto& ranks = scratch_.ranks;
    ranks.clear();
    for (const Pending& p : queue) ranks.push_back(candidate(p, cycle));
    auto& best = scratch_.best;
    best.assign(static_cast<size_t>(timing_.bank_groups()), -1);
    for (int i = 0; i < static_cast<int>(queue.size()); ++i) {
      int& slot = best[static_cast<size_t>(queue[i].where.bank_group)];
      if (slot < 0 || scheduler_.before(ranks[i], ranks[slot])) slot = i;
    }
    auto& chosen = scratch_.chosen;
    chosen.clear();
    for (int index : best)
      if (index >= 0) chosen.push_back(index);
    std::sort(chosen.begin(), chosen.end(),
              [&](int a, int b) { return scheduler_.before(ranks[a], ranks[b]); });
    chosen.erase(std::remove_if(chosen.begin() + 1, chosen.end(),
                                [&](int i) {
                                  if (ranks[i].row_hit || ranks[i].bank_ready) return false;
                                  const Pending& p = queue[i];
                                  return timing_.earliest(first_command(p), p.where.bank_group,
                                                          p.where.bank) > join_horizon(cycle);
                                }),
                 chosen.end());
    auto& batch = scratch_.batch;
    batch.clear();
    for (int index : chosen) batch.push_back(std::move(queue[index]));
    // Queue order carries no meaning (ranks use the arrival number), so removal swaps in the last.
    std::sort(chosen.begin(), chosen.end(), std::greater<>());
    for (int index : chosen) {
      queue[index] = std::move(queue.back());
      queue.pop_back();
    }
    return batch;
  }

  // Places the batch's row commands (PRE, ACT), always the one that can issue first, then its
  // column bursts. Row commands never wait on another bank's bursts, so the two phases give the
  // cycles of one merged list. The batch holds one request per bank group, all reads or all
  // writes, so its bursts interleave: each goes at the later of its bank group's tCCD_L and the
  // pseudo-channel's tCCD_S/tBL spacing. Among bursts that could go at the same cycle the request
  // with the most left goes first, so three requests share the bus round robin and finish
  // together, instead of one running alone at tCCD_L (half the bus) while the next batch waits for
  // it. The device state then records each request's last burst,
  // which carries every gate its earlier bursts set.
  void place(std::vector<Pending>& batch, uint64_t cycle) {
    const size_t n = batch.size();
    const HbmCommand column = batch.front().request.is_write ? HbmCommand::kWr : HbmCommand::kRd;
    auto& next = scratch_.next;
    auto& first = scratch_.first;
    next.resize(n);
    first.assign(n, kNever);
    for (size_t i = 0; i < n; ++i) {
      next[i] = first_command(batch[i]);
      ++*(next[i] == HbmCommand::kPre   ? stats_.row_conflicts
          : next[i] == HbmCommand::kAct ? stats_.row_misses
                                        : stats_.row_hits);
    }
    for (;;) {
      size_t pick = n;
      uint64_t pick_at = kNever;
      for (size_t i = 0; i < n; ++i) {
        if (next[i] == column) continue;
        const uint64_t at = std::max(
            cycle, timing_.earliest(next[i], batch[i].where.bank_group, batch[i].where.bank));
        if (at < pick_at) pick = i, pick_at = at;
      }
      if (pick == n) break;
      const HbmAddress& where = batch[pick].where;
      timing_.issue(next[pick], where.bank_group, where.bank, where.row, pick_at);
      first[pick] = std::min(first[pick], pick_at);
      if (next[pick] == HbmCommand::kPre) {
        ++*stats_.precharges;
        next[pick] = HbmCommand::kAct;
      } else {
        ++*stats_.activates;
        last_act_ = std::max(last_act_, pick_at);
        next[pick] = column;
      }
    }

    const auto same_group_gap = static_cast<uint64_t>(config_.timing.tCCD_L);
    const auto bus_gap = static_cast<uint64_t>(std::max(config_.timing.tCCD_S, config_.timing.tBL));
    auto& ready = scratch_.ready;
    auto& last = scratch_.last;
    auto& left = scratch_.left;
    ready.resize(n);
    last.resize(n);
    left.resize(n);
    for (size_t i = 0; i < n; ++i) {
      ready[i] =
          std::max(cycle, timing_.earliest(column, batch[i].where.bank_group, batch[i].where.bank));
      left[i] = batch[i].bursts;
    }
    // The greedy choice depends only on each request's readiness relative to the bus and on the
    // order of bursts left, so once a window of picks returns to the same relative state, with
    // every live request picked equally often (which keeps that order), it repeats until a
    // request runs out: those repeats are applied in one step.
    auto& window_start = scratch_.window_start;
    auto& picks = scratch_.picks;
    uint64_t bus = 0;
    uint64_t window_bus = 0;
    size_t window_picks = 0;
    auto relative = [&](size_t i) {
      return left[i] == 0 ? std::numeric_limits<int64_t>::min()
                          : static_cast<int64_t>(ready[i]) - static_cast<int64_t>(bus);
    };
    auto open_window = [&] {
      window_start.resize(n);
      for (size_t i = 0; i < n; ++i) window_start[i] = relative(i);
      picks.assign(n, 0);
      window_bus = bus;
      window_picks = 0;
    };
    open_window();
    for (size_t live = n; live > 0;) {
      size_t pick = 0;
      uint64_t pick_at = kNever;
      for (size_t i = 0; i < n; ++i) {
        if (left[i] == 0) continue;
        const uint64_t at = std::max(ready[i], bus);
        if (at < pick_at || (at == pick_at && left[i] > left[pick])) pick = i, pick_at = at;
      }
      first[pick] = std::min(first[pick], pick_at);
      last[pick] = pick_at;
      ready[pick] = pick_at + same_group_gap;
      bus = pick_at + bus_gap;
      ++picks[pick];
      if (--left[pick] == 0) {
        --live;
        open_window();
        continue;
      }
      if (++window_picks < live) continue;
      bool repeats = true;
      for (size_t i = 0; i < n && repeats; ++i)
        repeats = relative(i) == window_start[i] && (left[i] == 0 || picks[i] == picks[pick]);
      if (repeats) {
        uint32_t rounds = std::numeric_limits<uint32_t>::max();
        for (size_t i = 0; i < n; ++i)
          if (picks[i] > 0) rounds = std::min(rounds, (left[i] - 1) / picks[i]);
        const uint64_t shift = static_cast<uint64_t>(rounds) * (bus - window_bus);
        for (size_t i = 0; i < n; ++i) {
          if (picks[i] == 0) continue;
          left[i] -= rounds * picks[i];
          last[i] += shift;
          ready[i] += shift;
        }
        bus += shift;
      }
      open_window();
    }

    auto& by_last = scratch_.by_last;
    by_last.resize(n);
    for (size_t i = 0; i < n; ++i) by_last[i] = i;
    std::sort(by_last.begin(), by_last.end(),
              [&](size_t a, size_t b) { return last[a] < last[b]; });
    for (size_t i : by_last) {
      const HbmAddress& where = batch[i].where;
      timing_.issue(column, where.bank_group, where.bank, where.row, last[i]);
      last_column_ = std::max(last_column_, last[i]);
      finish(batch[i], first[i], timing_.data_end(column, last[i]));
    }
  }

  void finish(Pending& p, uint64_t first_command, uint64_t data_end) {
    ++*(p.request.is_write ? stats_.writes : stats_.reads);
    *stats_.bytes += p.request.bytes;
    *stats_.busy_cycles += p.bursts * static_cast<uint64_t>(config_.timing.tBL);
    const uint64_t done = data_end + static_cast<uint64_t>(config_.controller_cycles);
    last_cycle_ = std::max(last_cycle_, static_cast<double>(done));
    if (trace_)
      trace_->span(trace_pid_, trace_tid_, trace_label_ + (p.request.is_write ? " write" : " read"),
                   clock_.ticks(first_command), clock_.ticks(done - first_command));
    if (p.request.on_complete) {
      const Tick tick = clock_.ticks(done);
      events_.schedule(
          tick, [callback = std::move(p.request.on_complete), tick]() mutable { callback(tick); },
          EventPriority::kCompletion);
    }
  }

  const HbmConfig& config_;
  EventQueue& events_;
  const ClockDomain& clock_;
  const HbmScheduler& scheduler_;
  HbmChannelTiming timing_;
  PcStats stats_;
  double& last_cycle_;
  TraceWriter* trace_;
  int trace_pid_;
  int trace_tid_;
  std::string trace_label_;
  std::function<void()> notify_space_;
  bool per_bank_refresh_;
  int bank_count_;
  uint64_t refresh_interval_;
  uint64_t next_refresh_;
  int refresh_bank_ = 0;
  uint64_t lookahead_;
  uint64_t act_lookahead_;
  std::vector<Pending> reads_;
  std::vector<Pending> writes_;
  uint64_t next_arrival_ = 0;
  bool draining_ = false;
  bool rejected_ = false;
  uint64_t last_column_ = 0;
  uint64_t last_act_ = 0;
  uint64_t wake_cycle_ = kNever;
  // Reused by every wake-up, so that scheduling a batch allocates nothing.
  struct {
    std::vector<HbmCandidate> ranks;
    std::vector<int> best, chosen;
    std::vector<Pending> batch;
    std::vector<HbmCommand> next;
    std::vector<uint64_t> first, ready, last;
    std::vector<uint32_t> left, picks;
    std::vector<int64_t> window_start;
    std::vector<size_t> by_last;
  } scratch_;
};

}  // namespace

struct HbmSystem::Impl {
  HbmConfig config;
  EventQueue& events;
  const ClockDomain& clock;
  std::unique_ptr<HbmAddressMapping> mapping;
  std::unique_ptr<HbmScheduler> scheduler;
  std::vector<std::unique_ptr<HbmController>> controllers;
  std::vector<std::function<void()>> listeners;
  double* last_cycle = nullptr;
  // The last address decoded: a DMA engine asks for a chunk's stack, then its channel, then
  // submits it, three decodes of one address.
  mutable uint64_t decoded_addr = kNever;
  mutable HbmAddress decoded;

  Impl(const HbmConfig& c, EventQueue& e, const ClockDomain& k)
      : config(c),
        events(e),
        clock(k),
        mapping(make_hbm_address_mapping(c)),
        scheduler(make_hbm_scheduler(c.scheduler)) {}

  const HbmAddress& decode(uint64_t addr) const {
    if (addr != decoded_addr) {
      decoded = mapping->decode(addr);
      decoded_addr = addr;
    }
    return decoded;
  }

  size_t controller_index(const HbmAddress& a) const {
    return (static_cast<size_t>(a.stack) * static_cast<size_t>(config.channels) +
            static_cast<size_t>(a.channel)) *
               static_cast<size_t>(config.pseudo_channels) +
           static_cast<size_t>(a.pseudo_channel);
  }
};

namespace {

void check_queues(const HbmConfig& config) {
  if (config.write_drain_high > config.write_queue)
    throw InputError("hbm.write_drain_high: " + std::to_string(config.write_drain_high) +
                     " exceeds hbm.write_queue (" + std::to_string(config.write_queue) + ")");
  if (config.write_drain_low >= config.write_drain_high)
    throw InputError("hbm.write_drain_low: " + std::to_string(config.write_drain_low) +
                     " must be below hbm.write_drain_high (" +
                     std::to_string(config.write_drain_high) + ")");
}

using PcCounter = uint64_t* PcStats::*;

// Totals and derived figures over every pseudo-channel. Formulas capture only stat storage, which
// lives as long as the StatTree, so the tree stays valid after the HbmSystem is gone.
void add_summary_stats(StatTree& stats, const std::string& prefix, const std::vector<PcStats>& pcs,
                       const double* last_cycle, double clock_mhz) {
  auto total = [pcs](PcCounter field) {
    return [pcs, field] {
      double sum = 0;
      for (const PcStats& pc : pcs) sum += static_cast<double>(*(pc.*field));
      return sum;
    };
  };
  const struct {
    const char* name;
    PcCounter field;
    const char* unit;
    const char* desc;
  } totals[] = {
      {"reads", &PcStats::reads, "requests", "read requests completed, all PCs"},
      {"writes", &PcStats::writes, "requests", "write requests completed, all PCs"},
      {"bytes", &PcStats::bytes, "bytes", "bytes read and written, all PCs"},
      {"row_hits", &PcStats::row_hits, "requests", "requests that found their row open"},
      {"row_misses", &PcStats::row_misses, "requests", "requests that found their bank closed"},
      {"row_conflicts", &PcStats::row_conflicts, "requests",
       "requests that found another row open"},
      {"activates", &PcStats::activates, "commands", "ACT commands, all PCs"},
      {"refreshes", &PcStats::refreshes, "commands", "refresh commands, all PCs"},
      {"queue_full", &PcStats::queue_full, "requests", "submissions refused by a full queue"},
  };
  for (const auto& t : totals) stats.formula(prefix + "." + t.name, t.unit, t.desc, total(t.field));
  auto hits = total(&PcStats::row_hits);
  auto misses = total(&PcStats::row_misses);
  auto conflicts = total(&PcStats::row_conflicts);
  stats.formula(prefix + ".row_hit_rate", "ratio",
                "row_hits / (row_hits + row_misses + row_conflicts)", [=] {
                  const double all = hits() + misses() + conflicts();
                  return all > 0 ? hits() / all : 0.0;
                });
  auto busy = total(&PcStats::busy_cycles);
  const double pc_count = static_cast<double>(pcs.size());
  stats.formula(prefix + ".bus_utilization", "ratio",
                "data-bus busy cycles / (cycles x pseudo-channels)",
                [=] { return *last_cycle > 0 ? busy() / (*last_cycle * pc_count) : 0.0; });
  auto bytes = total(&PcStats::bytes);
  stats.formula(prefix + ".gbytes_per_s", "GB/s", "bytes / (cycles / hbm.clock_mhz)", [=] {
    return *last_cycle > 0 ? bytes() / (*last_cycle / (clock_mhz * 1e6)) / 1e9 : 0.0;
  });
}

}  // namespace

HbmSystem::HbmSystem(const HbmConfig& config, EventQueue& events, const ClockDomain& clock,
                     StatTree& stats, const std::string& stat_prefix, TraceWriter* trace,
                     int trace_pid)
    : impl_(std::make_unique<Impl>(config, events, clock)) {
  check_queues(config);
  impl_->last_cycle = &stats.value(stat_prefix + ".cycles", "CK",
                                   "HBM clock cycles until the last request completed");
  std::vector<PcStats> all;
  for (int stack = 0; stack < config.stacks; ++stack) {
    for (int channel = 0; channel < config.channels; ++channel) {
      const int tid = stack * static_cast<int>(config.channels) + channel;
      const std::string channel_name =
          "stack" + std::to_string(stack) + ".ch" + std::to_string(channel);
      if (trace) trace->name_track(trace_pid, tid, "HBM " + channel_name);
      for (int pc = 0; pc < config.pseudo_channels; ++pc) {
        const std::string p = stat_prefix + "." + channel_name + ".pc" + std::to_string(pc) + ".";
        PcStats s{
            &stats.counter(p + "reads", "requests", "read requests completed"),
            &stats.counter(p + "writes", "requests", "write requests completed"),
            &stats.counter(p + "bytes", "bytes", "bytes read and written"),
            &stats.counter(p + "row_hits", "requests", "requests that found their row open"),
            &stats.counter(p + "row_misses", "requests", "requests that found their bank closed"),
            &stats.counter(p + "row_conflicts", "requests", "requests that found another row open"),
            &stats.counter(p + "activates", "commands", "ACT commands"),
            &stats.counter(p + "precharges", "commands", "PRE commands (refresh included)"),
            &stats.counter(p + "refreshes", "commands", "REFab or REFpb commands"),
            &stats.counter(p + "busy_cycles", "CK", "cycles the data bus carried data"),
            &stats.counter(p + "queue_full", "requests", "submissions refused by a full queue"),
        };
        all.push_back(s);
        impl_->controllers.push_back(std::make_unique<HbmController>(
            impl_->config, events, clock, *impl_->scheduler, s, *impl_->last_cycle, trace,
            trace_pid, tid, "pc" + std::to_string(pc), [impl = impl_.get()] {
              for (auto& listener : impl->listeners) listener();
            }));
      }
    }
  }
  add_summary_stats(stats, stat_prefix, all, impl_->last_cycle, config.clock_mhz);
}

HbmSystem::~HbmSystem() = default;

uint64_t HbmSystem::capacity_bytes() const { return impl_->mapping->capacity_bytes(); }

double HbmSystem::peak_bytes_per_second() const {
  const HbmConfig& c = impl_->config;
  return static_cast<double>(c.stacks * c.channels * c.pseudo_channels * c.pc_bus_bits) *
         c.data_rate_gbps * 1e9 / 8;
}

uint64_t HbmSystem::contiguous_bytes(uint64_t addr) const {
  return impl_->mapping->contiguous_bytes(addr);
}

int HbmSystem::stack_of(uint64_t addr) const { return impl_->decode(addr).stack; }
int HbmSystem::channel_of(uint64_t addr) const { return impl_->decode(addr).channel; }

bool HbmSystem::try_submit(HbmRequest request) {
  if (request.addr >= capacity_bytes() || request.bytes > capacity_bytes() - request.addr)
    throw InputError("HBM request at address " + std::to_string(request.addr) + " (" +
                     std::to_string(request.bytes) + " bytes) lies beyond the capacity of " +
                     std::to_string(capacity_bytes()) + " bytes");
  if (request.bytes == 0 || request.bytes > contiguous_bytes(request.addr))
    throw std::logic_error("HBM request of " + std::to_string(request.bytes) +
                           " bytes at address " + std::to_string(request.addr) +
                           " is empty or leaves its row (see HbmSystem::contiguous_bytes)");
  Pending pending;
  pending.where = impl_->decode(request.addr);
  const uint64_t access = static_cast<uint64_t>(impl_->config.access_bytes);
  pending.bursts =
      static_cast<uint32_t>((request.addr % access + request.bytes + access - 1) / access);
  pending.request = std::move(request);
  return impl_->controllers[impl_->controller_index(pending.where)]->submit(std::move(pending));
}

void HbmSystem::add_space_listener(std::function<void()> listener) {
  impl_->listeners.push_back(std::move(listener));
}

void HbmSystem::settle() {
  const uint64_t cycle = impl_->clock.cycle_at(impl_->events.now());
  for (auto& controller : impl_->controllers) controller->catch_up_refresh(cycle);
}

}  // namespace seedchip::sim
