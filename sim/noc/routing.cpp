#include "sim/noc/routing.h"

#include "arch/error.h"

namespace seedchip::sim {
namespace {

struct Walk {
  int mesh_x;
  int x;
  int y;
  std::vector<int> links;

  void step_x(int to_x) {
    for (; x != to_x; x += to_x > x ? 1 : -1)
      links.push_back(here() + (to_x > x ? kXPlus : kXMinus));
  }
  void step_y(int to_y) {
    for (; y != to_y; y += to_y > y ? 1 : -1)
      links.push_back(here() + (to_y > y ? kYPlus : kYMinus));
  }
  int here() const { return (y * mesh_x + x) * kMeshDirections; }
};

std::vector<int> route_xy(int mesh_x, int src_node, int dst_node) {
  Walk walk{mesh_x, src_node % mesh_x, src_node / mesh_x, {}};
  walk.step_x(dst_node % mesh_x);
  walk.step_y(dst_node / mesh_x);
  return std::move(walk.links);
}

std::vector<int> route_yx(int mesh_x, int src_node, int dst_node) {
  Walk walk{mesh_x, src_node % mesh_x, src_node / mesh_x, {}};
  walk.step_y(dst_node / mesh_x);
  walk.step_x(dst_node % mesh_x);
  return std::move(walk.links);
}

}  // namespace

const std::vector<MeshRouting>& mesh_routings() {
  static const std::vector<MeshRouting> routings = {
      {"xy", "dimension order: along x to the destination column, then along y", route_xy},
      {"yx", "dimension order: along y to the destination row, then along x", route_yx},
  };
  return routings;
}

const MeshRouting& find_mesh_routing(const std::string& name) {
  std::string choices;
  for (const MeshRouting& routing : mesh_routings()) {
    if (routing.name == name) return routing;
    choices += (choices.empty() ? "" : ", ") + routing.name;
  }
  throw InputError("noc.routing: unknown routing '" + name + "', expected one of: " + choices);
}

}  // namespace seedchip::sim
