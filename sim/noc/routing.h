#pragma once
// Mesh routing policies, registered by name (noc.routing). A policy maps a (source, destination)
// router pair to the ordered list of directed links a packet crosses; dimension-order policies are
// deadlock-free and deterministic, so two runs route every packet the same way.
#include <string>
#include <vector>

namespace seedchip::sim {

// Router i sits at (i % mesh_x, i / mesh_x). Each router has one outgoing link per direction;
// link id = router * kMeshDirections + direction.
enum MeshDirection : int { kXPlus = 0, kXMinus = 1, kYPlus = 2, kYMinus = 3, kMeshDirections = 4 };

struct MeshRouting {
  std::string name;
  std::string description;
  std::vector<int> (*route)(int mesh_x, int src_node, int dst_node);
};

// Every registered policy, in the order `seedchip info` lists them.
const std::vector<MeshRouting>& mesh_routings();
// The policy called `name`; InputError naming the key and listing the choices otherwise.
const MeshRouting& find_mesh_routing(const std::string& name);

}  // namespace seedchip::sim
