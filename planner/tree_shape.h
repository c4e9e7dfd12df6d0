// The binary tree that tree plans use, and where its nodes sit in a ring
// order.
//
// Shape: number the nodes 1..n in order ("in-order numbering"); the node p
// whose lowest set bit is 2^k has height k; its children are p - 2^(k-1)
// and the first of p + 2^(k-1), p + 2^(k-2), ... that is <= n; the root is
// the largest power of two <= n.  Leaves are exactly the odd numbers, about
// half the nodes; every subtree is a contiguous run of numbers (so ring
// neighbours stay close in the tree), and the height is floor(log2 n).
//
// Placement: node p sits at ring position (sign * p + offset) mod n.  The
// double binary tree uses First (p at position p-1) and Second, which
// mirrors First when n is even (position n-p) and shifts it by one when n
// is odd (position p mod n): either way the leaves of one tree (odd
// numbers) sit where the other has interior nodes, so no rank is interior
// in both, and every rank but one (position 0, for odd n) is a leaf in
// exactly one.
#ifndef MERIDIAN_PLANNER_TREE_SHAPE_H_
#define MERIDIAN_PLANNER_TREE_SHAPE_H_

#include <vector>

namespace meridian::planner {

struct TreeNode {
  int parent = 0;            // 0: this is the root
  int children[2] = {0, 0};  // 0: none
  int num_children = 0;
  int height = 0;            // 0: a leaf; a parent is always higher
};

// The root of the tree over nodes 1..n (n >= 1).
int TreeRoot(int n);

// Node p (1 <= p <= n) of the tree over nodes 1..n.  O(log n).
TreeNode TreeNodeAt(int p, int n);

// Children in the order a node reduces them: lower first (ties: the left
// child first).
std::vector<int> ReductionOrder(const TreeNode& node, int n);

struct TreePlacement {
  int n, sign, offset;
  int position(int node) const;
  int node(int position) const;

  static TreePlacement First(int n);
  static TreePlacement Second(int n);
  // The root's node at ring position `root_position`.
  static TreePlacement RootedAt(int n, int root_position);
};

}  // namespace meridian::planner

#endif  // MERIDIAN_PLANNER_TREE_SHAPE_H_
