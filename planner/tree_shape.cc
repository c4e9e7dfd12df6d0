#include "planner/tree_shape.h"

#include <algorithm>

namespace meridian::planner {
namespace {

int Mod(int a, int n) { return ((a % n) + n) % n; }

int Log2(int v) {
  int k = 0;
  while ((2 << k) <= v) ++k;
  return k;
}

}  // namespace

int TreeRoot(int n) { return 1 << Log2(n); }

TreeNode TreeNodeAt(int p, int n) {
  TreeNode node;
  const int low = p & -p;
  node.height = Log2(low);
  if (low > 1) {
    node.children[node.num_children++] = p - low / 2;
    for (int step = low / 2; step >= 1; step /= 2) {
      if (p + step <= n) {
        node.children[node.num_children++] = p + step;
        break;
      }
    }
  }
  if (p == TreeRoot(n)) return node;
  // The parent is the nearest ancestor, in the unbounded tree, that is <= n:
  // p hangs under it in place of the missing nodes in between (exactly the
  // node whose child rule above picks p).
  int a = p, a_low = low;
  do {
    a = (a & (2 * a_low)) != 0 ? a - a_low : a + a_low;
    a_low *= 2;
  } while (a > n);
  node.parent = a;
  return node;
}

std::vector<int> ReductionOrder(const TreeNode& node, int n) {
  std::vector<int> chain(node.children, node.children + node.num_children);
  std::stable_sort(chain.begin(), chain.end(), [n](int a, int b) {
    return TreeNodeAt(a, n).height < TreeNodeAt(b, n).height;
  });
  return chain;
}

int TreePlacement::position(int node) const { return Mod(sign * node + offset, n); }

int TreePlacement::node(int position) const {
  const int p = Mod(sign * (position - offset), n);
  return p == 0 ? n : p;
}

TreePlacement TreePlacement::First(int n) { return {n, 1, -1}; }

TreePlacement TreePlacement::Second(int n) {
  return n % 2 == 0 ? TreePlacement{n, -1, n} : TreePlacement{n, 1, 0};
}

TreePlacement TreePlacement::RootedAt(int n, int root_position) {
  return {n, 1, root_position - TreeRoot(n)};
}

}  // namespace meridian::planner
