#pragma once
// `--report DIR`: a self-contained HTML page (index.html) with the plots of a run as inline SVG,
// no script and nothing fetched, beside the JSON behind them (data.json, also embedded in the
// page).
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace seedchip::tools {

struct ChartSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in this order
};

struct Chart {
  std::string title, x_label, y_label;
  bool log_x = false, log_y = false;  // log axes need positive values (others are dropped)
  bool step = false;                  // draw as steps (a CDF) instead of straight segments
  std::vector<ChartSeries> series;
};

// One chart as an SVG element; an empty chart says so in place of the plot.
std::string svg_chart(const Chart& chart);

// Bars of named parts stacked per group (a cost breakdown): groups on x, parts stacked in y.
struct StackedBars {
  std::string title, y_label;
  std::vector<std::string> parts;                                   // legend order, bottom first
  std::vector<std::pair<std::string, std::vector<double>>> groups;  // name, one value per part
};
std::string svg_stacked_bars(const StackedBars& bars);

// The empirical CDF of `values`: (value, fraction of values at or below it), sorted, thinned to
// about `max_points` points (a plot needs no more; the data file keeps every value).
std::vector<std::pair<double, double>> cdf(std::vector<double> values, size_t max_points = 1000);

struct ReportSection {
  std::string heading;
  std::string html;  // trusted markup made by the functions above (or escaped text)
};

std::string html_escape(const std::string& text);

// Writes DIR/index.html and DIR/data.json (creating DIR). Throws InputError when it cannot.
void write_html_report(const std::string& dir, const std::string& title,
                       const std::vector<ReportSection>& sections, const nlohmann::json& data);

}  // namespace seedchip::tools
