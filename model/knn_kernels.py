"""numba kernels for exact k-nearest-neighbour search on FluCoMa's flattened kd-tree.

The tree is FluCoMa's ``KDTree::toFlat`` layout: nodes in pre-order, ``data[n]`` the node's point,
``tree[n] = (left, right)`` child node numbers or -1; node n splits on dimension depth % cols.
Search is exact Euclidean: a branch is skipped only when the splitting plane is farther than the
k-th best distance found so far. Every query kernel works in caller-provided buffers, so a
prediction allocates nothing.
"""
from __future__ import annotations

import numpy as np
from numba import njit

EPSILON = 1e-10  # a neighbour closer than this is "the same point" (FluCoMa's binary weights)


@njit(cache=True, nogil=True)
def build_tree(points):
    """FluCoMa's median-split kd-tree over ``points``; returns (order, tree): node n holds
    points[order[n]], children in tree[n]."""
    n, dims = points.shape
    order = np.empty(n, dtype=np.int64)
    tree = np.full((n, 2), -1, dtype=np.int64)
    if n == 0:
        return order, tree
    idx = np.arange(n)
    # stack of (lo, hi, depth, parent node, side) ranges of idx still to place
    stack = np.empty((n + 1, 5), dtype=np.int64)
    stack[0, 0], stack[0, 1], stack[0, 2], stack[0, 3], stack[0, 4] = 0, n, 0, -1, 0
    top = 1
    next_node = 0
    while top > 0:
        top -= 1
        lo, hi, depth, parent, side = stack[top, 0], stack[top, 1], stack[top, 2], stack[top, 3], stack[top, 4]
        d = depth % dims
        sub = idx[lo:hi]
        sub[:] = sub[np.argsort(points[sub, d], kind="mergesort")]
        mid = lo + (hi - lo) // 2
        node = next_node
        next_node += 1
        order[node] = idx[mid]
        if parent >= 0:
            tree[parent, side] = node
        # pre-order numbering: the left range must be numbered next, so it goes on top
        if hi - mid > 1:
            stack[top, 0], stack[top, 1], stack[top, 2], stack[top, 3], stack[top, 4] = mid + 1, hi, depth + 1, node, 1
            top += 1
        if mid > lo:
            stack[top, 0], stack[top, 1], stack[top, 2], stack[top, 3], stack[top, 4] = lo, mid, depth + 1, node, 0
            top += 1
    return order, tree


@njit(cache=True, nogil=True)
def tree_depth(tree):
    """Longest root-to-leaf path (number of nodes); -1 if ``tree`` is not a tree rooted at node 0
    reaching every node exactly once."""
    n = tree.shape[0]
    if n == 0:
        return 0
    seen = np.zeros(n, dtype=np.bool_)
    stack = np.empty((n, 2), dtype=np.int64)
    stack[0, 0], stack[0, 1] = 0, 1
    top = 1
    deepest = 0
    visited = 0
    while top > 0:
        top -= 1
        node, depth = stack[top, 0], stack[top, 1]
        if node < 0 or node >= n or seen[node]:
            return -1
        seen[node] = True
        visited += 1
        deepest = max(deepest, depth)
        for side in range(2):
            child = tree[node, side]
            if child != -1:
                if top >= n:
                    return -1
                stack[top, 0], stack[top, 1] = child, depth + 1
                top += 1
    return deepest if visited == n else -1


@njit(cache=True, nogil=True, inline="always")
def _insert_nearest(best_d2, best_n, found, k, d2, node):
    """Insert (d2, node) in order into the k-best lists, dropping the farthest when they are full;
    returns the new count. Callers test ``found < k or d2 < best_d2[k - 1]`` first, which keeps
    this (and the reference counting numba wraps around it) off the path of most points."""
    pos = found if found < k else k - 1
    while pos > 0 and best_d2[pos - 1] > d2:
        best_d2[pos] = best_d2[pos - 1]
        best_n[pos] = best_n[pos - 1]
        pos -= 1
    best_d2[pos] = d2
    best_n[pos] = node
    return found + 1 if found < k else found


@njit(cache=True, nogil=True)
def k_nearest(data, tree, query, k, best_d2, best_n, stack_n, stack_b):
    """The k nearest nodes to ``query`` (ascending squared distance) into best_d2/best_n; returns
    (how many were found = min(k, nodes), nodes visited), or (-1, 0) if the query is not finite.
    stack_n (S, 2) and stack_b (S,) need S >= depth + 2."""
    n, dims = data.shape
    for j in range(dims):
        if not np.isfinite(query[j]):
            return -1, 0
    if n == 0:
        return 0, 0
    found = 0
    visited = 0
    stack_n[0, 0] = 0  # node
    stack_n[0, 1] = 0  # its depth, which gives its split dimension
    stack_b[0] = 0.0  # squared distance from the query to the node's region: a lower bound
    top = 1
    while top > 0:
        top -= 1
        node = stack_n[top, 0]
        depth = stack_n[top, 1]
        bound = stack_b[top]
        if found == k and bound >= best_d2[k - 1]:
            continue
        visited += 1
        d2 = 0.0
        for j in range(dims):
            t = data[node, j] - query[j]
            d2 += t * t
        if found < k or d2 < best_d2[k - 1]:
            found = _insert_nearest(best_d2, best_n, found, k, d2, node)
        d = depth % dims
        diff = query[d] - data[node, d]
        near = tree[node, 1] if diff >= 0.0 else tree[node, 0]
        far = tree[node, 0] if diff >= 0.0 else tree[node, 1]
        if far != -1:  # pushed first, so searched after the near side has tightened best_d2
            stack_n[top, 0] = far
            stack_n[top, 1] = depth + 1
            stack_b[top] = max(bound, diff * diff)
            top += 1
        if near != -1:
            stack_n[top, 0] = near
            stack_n[top, 1] = depth + 1
            stack_b[top] = bound
            top += 1
    return found, visited


@njit(cache=True, nogil=True)
def neighbour_weights(best_d2, found, weighted, weights):
    """FluCoMa's weights: uniform, or inverse distance normalised to sum 1; neighbours closer
    than EPSILON (the query is a stored point) take all the weight between them."""
    if not weighted:
        for i in range(found):
            weights[i] = 1.0 / found
        return
    exact = 0
    for i in range(found):
        if best_d2[i] < EPSILON * EPSILON:
            exact += 1
    total = 0.0
    for i in range(found):
        if exact > 0:
            weights[i] = 1.0 / exact if best_d2[i] < EPSILON * EPSILON else 0.0
        else:
            weights[i] = 1.0 / np.sqrt(best_d2[i])
            total += weights[i]
    if exact == 0:
        for i in range(found):
            weights[i] /= total


@njit(cache=True, nogil=True)
def vote(best_d2, best_n, found, weighted, codes, weights, scores):
    """Class scores (summing to 1) into ``scores``; returns the winning class. A tie goes to the
    class of the nearest neighbour among the tied classes."""
    neighbour_weights(best_d2, found, weighted, weights)
    for c in range(scores.shape[0]):
        scores[c] = 0.0
    for i in range(found):
        scores[codes[best_n[i]]] += weights[i]
    best = codes[best_n[0]]
    for i in range(1, found):
        c = codes[best_n[i]]
        if scores[c] > scores[best]:
            best = c
    return best


@njit(cache=True, nogil=True)
def average(best_d2, best_n, found, weighted, targets, weights, out):
    """Weighted mean of the neighbours' target rows into ``out``."""
    neighbour_weights(best_d2, found, weighted, weights)
    for j in range(out.shape[0]):
        out[j] = 0.0
    for i in range(found):
        w = weights[i]
        for j in range(out.shape[0]):
            out[j] += w * targets[best_n[i], j]


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def k_nearest_brute(data_t, query, k, best_d2, best_n, d2):
    """Same result as k_nearest by scanning every point: data_t is the (cols, nodes) transpose of
    the tree's data, so the distance loop runs over contiguous nodes; d2 holds one value per node.
    Faster than the tree when the data fill their space evenly (see KNN's cost model).
    Returns -1 if the query is not finite."""
    dims, n = data_t.shape
    for j in range(dims):
        if not np.isfinite(query[j]):
            return -1
    for i in range(n):
        d2[i] = 0.0
    for j in range(dims):
        q = query[j]
        for i in range(n):
            t = data_t[j, i] - q
            d2[i] += t * t
    found = 0
    for node in range(n):
        v = d2[node]
        if found < k or v < best_d2[k - 1]:
            found = _insert_nearest(best_d2, best_n, found, k, v, node)
    return found
