#include "tools/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>

#include "arch/error.h"

namespace seedchip::tools {
namespace {

constexpr double kWidth = 640, kHeight = 360;
constexpr double kLeft = 70, kRight = 160, kTop = 30, kBottom = 50;  // margins: axes and legend
const char* const kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                               "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};

std::string number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", v);
  return text;
}

std::string coordinate(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", v);
  return text;
}

// An axis from lo to hi (already positive for a log axis) and the ticks to label on it.
struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  double fraction(double v) const {
    return log ? (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo))
               : (v - lo) / (hi - lo);
  }
  std::vector<double> ticks() const {
    std::vector<double> out;
    if (log) {
      for (double t = std::pow(10, std::floor(std::log10(lo))); t <= hi * 1.0001; t *= 10)
        if (t >= lo * 0.9999) out.push_back(t);
      return out;
    }
    const double raw = (hi - lo) / 5;
    const double power = std::pow(10, std::floor(std::log10(raw)));
    const double step = raw / power < 2 ? 2 * power : raw / power < 5 ? 5 * power : 10 * power;
    for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
      out.push_back(std::abs(t) < step * 1e-9 ? 0 : t);
    return out;
  }
};

Axis make_axis(double lo, double hi, bool log) {
  Axis a;
  a.log = log;
  if (log) {
    a.lo = std::pow(10, std::floor(std::log10(lo)));
    a.hi = std::pow(10, std::ceil(std::log10(hi)));
    if (a.hi <= a.lo) a.hi = a.lo * 10;
  } else {
    a.lo = std::min(0.0, lo);
    a.hi = hi > a.lo ? hi * 1.05 : a.lo + 1;
  }
  return a;
}

std::string frame(const std::string& title, const std::string& x_label,
                  const std::string& y_label) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + number(kWidth) + "\" height=\"" +
         number(kHeight) + "\" viewBox=\"0 0 " + number(kWidth) + " " + number(kHeight) +
         "\" font-family=\"sans-serif\" font-size=\"11\">" + "<text x=\"" + number(kWidth / 2) +
         "\" y=\"18\" text-anchor=\"middle\" font-size=\"13\">" + html_escape(title) +
         "</text><text x=\"" + number(kLeft + (kWidth - kLeft - kRight) / 2) + "\" y=\"" +
         number(kHeight - 10) + "\" text-anchor=\"middle\">" + html_escape(x_label) +
         "</text><text transform=\"translate(14," + number(kTop + (kHeight - kTop - kBottom) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + html_escape(y_label) + "</text>";
}

std::string legend(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    const double y = kTop + 14 * static_cast<double>(i);
    out += "<rect x=\"" + number(kWidth - kRight + 10) + "\" y=\"" + number(y) +
           "\" width=\"10\" height=\"10\" fill=\"" + kColors[i % std::size(kColors)] +
           "\"/><text x=\"" + number(kWidth - kRight + 24) + "\" y=\"" + number(y + 9) + "\">" +
           html_escape(names[i]) + "</text>";
  }
  return out;
}

}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::vector<std::pair<double, double>> cdf(std::vector<double> values, size_t max_points) {
  std::sort(values.begin(), values.end());
  std::vector<std::pair<double, double>> out;
  const size_t n = values.size();
  // At most max_points steps, evenly spaced in rank; the last value always ends the curve.
  const size_t stride = std::max<size_t>(1, (n + max_points - 1) / std::max<size_t>(max_points, 1));
  for (size_t i = stride - 1; i < n; i += stride)
    if (i + 1 == n || values[i + 1] != values[i])
      out.emplace_back(values[i], static_cast<double>(i + 1) / static_cast<double>(n));
  if (n && (out.empty() || out.back().second < 1)) out.emplace_back(values.back(), 1.0);
  return out;
}

std::string svg_chart(const Chart& chart) {
  std::string svg = frame(chart.title, chart.x_label, chart.y_label);
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  auto usable = [&](const std::pair<double, double>& p) {
    return std::isfinite(p.first) && std::isfinite(p.second) && (!chart.log_x || p.first > 0) &&
           (!chart.log_y || p.second > 0);
  };
  for (const ChartSeries& s : chart.series)
    for (const auto& p : s.points)
      if (usable(p)) {
        x_lo = std::min(x_lo, p.first), x_hi = std::max(x_hi, p.first);
        y_lo = std::min(y_lo, p.second), y_hi = std::max(y_hi, p.second);
      }
  if (!(x_lo <= x_hi))
    return svg + "<text x=\"" + number(kWidth / 2) + "\" y=\"" + number(kHeight / 2) +
           "\" text-anchor=\"middle\">no data</text></svg>";
  const Axis x = make_axis(x_lo, x_hi, chart.log_x), y = make_axis(y_lo, y_hi, chart.log_y);
  const double w = kWidth - kLeft - kRight, h = kHeight - kTop - kBottom;
  auto px = [&](double v) { return kLeft + x.fraction(v) * w; };
  auto py = [&](double v) { return kTop + (1 - y.fraction(v)) * h; };
  svg += "<rect x=\"" + number(kLeft) + "\" y=\"" + number(kTop) + "\" width=\"" + number(w) +
         "\" height=\"" + number(h) + "\" fill=\"none\" stroke=\"#444\"/>";
  for (double t : x.ticks())
    svg += "<line x1=\"" + coordinate(px(t)) + "\" x2=\"" + coordinate(px(t)) + "\" y1=\"" +
           number(kTop) + "\" y2=\"" + number(kTop + h) + "\" stroke=\"#ddd\"/><text x=\"" +
           coordinate(px(t)) + "\" y=\"" + number(kTop + h + 15) + "\" text-anchor=\"middle\">" +
           number(t) + "</text>";
  for (double t : y.ticks())
    svg += "<line x1=\"" + number(kLeft) + "\" x2=\"" + number(kLeft + w) + "\" y1=\"" +
           coordinate(py(t)) + "\" y2=\"" + coordinate(py(t)) + "\" stroke=\"#ddd\"/><text x=\"" +
           number(kLeft - 5) + "\" y=\"" + coordinate(py(t) + 4) + "\" text-anchor=\"end\">" +
           number(t) + "</text>";
  std::vector<std::string> names;
  for (size_t i = 0; i < chart.series.size(); ++i) {
    const ChartSeries& s = chart.series[i];
    names.push_back(s.name);
    std::string path;
    double last_y = 0;
    for (const auto& p : s.points) {
      if (!usable(p)) continue;
      if (path.empty()) {
        path = "M" + coordinate(px(p.first)) + " " + coordinate(py(p.second));
      } else {
        if (chart.step) path += " L" + coordinate(px(p.first)) + " " + coordinate(last_y);
        path += " L" + coordinate(px(p.first)) + " " + coordinate(py(p.second));
      }
      last_y = py(p.second);
    }
    const char* color = kColors[i % std::size(kColors)];
    svg += "<path d=\"" + path + "\" fill=\"none\" stroke=\"" + color + "\" stroke-width=\"1.5\"/>";
    if (!chart.step)
      for (const auto& p : s.points)
        if (usable(p))
          svg += "<circle cx=\"" + coordinate(px(p.first)) + "\" cy=\"" + coordinate(py(p.second)) +
                 "\" r=\"2.5\" fill=\"" + color + "\"/>";
  }
  return svg + legend(names) + "</svg>";
}

std::string svg_stacked_bars(const StackedBars& bars) {
  std::string svg = frame(bars.title, "", bars.y_label);
  double top = 0;
  for (const auto& [name, values] : bars.groups) {
    double sum = 0;
    for (double v : values) sum += std::max(0.0, v);
    top = std::max(top, sum);
  }
  if (bars.groups.empty() || top <= 0)
    return svg + "<text x=\"" + number(kWidth / 2) + "\" y=\"" + number(kHeight / 2) +
           "\" text-anchor=\"middle\">no data</text></svg>";
  const Axis y = make_axis(0, top, false);
  const double w = kWidth - kLeft - kRight, h = kHeight - kTop - kBottom;
  auto py = [&](double v) { return kTop + (1 - y.fraction(v)) * h; };
  for (double t : y.ticks())
    svg += "<line x1=\"" + number(kLeft) + "\" x2=\"" + number(kLeft + w) + "\" y1=\"" +
           coordinate(py(t)) + "\" y2=\"" + coordinate(py(t)) + "\" stroke=\"#ddd\"/><text x=\"" +
           number(kLeft - 5) + "\" y=\"" + coordinate(py(t) + 4) + "\" text-anchor=\"end\">" +
           number(t) + "</text>";
  const double slot = w / static_cast<double>(bars.groups.size());
  for (size_t g = 0; g < bars.groups.size(); ++g) {
    const auto& [name, values] = bars.groups[g];
    const double x0 = kLeft + slot * (static_cast<double>(g) + 0.2);
    double base = 0;
    for (size_t p = 0; p < values.size() && p < bars.parts.size(); ++p) {
      const double v = std::max(0.0, values[p]);
      svg += "<rect x=\"" + coordinate(x0) + "\" y=\"" + coordinate(py(base + v)) + "\" width=\"" +
             coordinate(slot * 0.6) + "\" height=\"" + coordinate(py(base) - py(base + v)) +
             "\" fill=\"" + kColors[p % std::size(kColors)] + "\"><title>" +
             html_escape(bars.parts[p] + ": " + number(v)) + "</title></rect>";
      base += v;
    }
    svg += "<text x=\"" + coordinate(x0 + slot * 0.3) + "\" y=\"" + number(kTop + h + 15) +
           "\" text-anchor=\"middle\">" + html_escape(name) + "</text>";
  }
  return svg + legend(bars.parts) + "</svg>";
}

void write_html_report(const std::string& dir, const std::string& title,
                       const std::vector<ReportSection>& sections, const nlohmann::json& data) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) throw InputError(dir + ": cannot create the report folder: " + error.message());
  const std::string data_text = data.dump(2);
  std::string page =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" +
      html_escape(title) +
      "</title><style>body{font-family:sans-serif;margin:2em;max-width:1400px}"
      "section{margin-bottom:2em}svg{margin:0.5em;border:1px solid #eee}</style></head><body><h1>" +
      html_escape(title) + "</h1>\n";
  for (const ReportSection& s : sections)
    page += "<section><h2>" + html_escape(s.heading) + "</h2>\n" + s.html + "\n</section>\n";
  // The data behind the plots, for anyone who wants to replot them (also in data.json). "</" is
  // escaped so the JSON cannot end the script element.
  std::string embedded;
  for (size_t i = 0; i < data_text.size(); ++i) {
    if (data_text[i] == '<' && i + 1 < data_text.size() && data_text[i + 1] == '/')
      embedded += "<\\";
    else
      embedded += data_text[i];
  }
  page +=
      "<script type=\"application/json\" id=\"data\">" + embedded + "</script>\n</body></html>\n";
  for (const auto& [name, text] :
       {std::pair<std::string, const std::string&>{"index.html", page}, {"data.json", data_text}}) {
    const std::string path = (std::filesystem::path(dir) / name).string();
    std::ofstream out(path);
    if (!(out << text)) throw InputError(path + ": cannot write the report");
  }
}

}  // namespace seedchip::tools
