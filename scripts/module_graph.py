#!/usr/bin/env python3
"""Prints the include graph between the module folders of src/ and fails on a cycle.

A module is a folder of src/ (DESIGN.md's layout); an edge a -> b means some
file of src/a includes "b/...". Data must flow one way, so the graph must be
acyclic:

    python3 scripts/module_graph.py        # edges, then "no cycle" or the cycle
"""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/[^"]+"', re.M)


def graph():
    edges = {}
    for module in sorted(os.listdir(SRC)):
        folder = os.path.join(SRC, module)
        if not os.path.isdir(folder):
            continue
        deps = edges.setdefault(module, set())
        for name in sorted(os.listdir(folder)):
            if name.endswith((".c", ".h")):
                with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as f:
                    deps.update(m for m in INCLUDE.findall(f.read()) if m != module)
    return edges


def find_cycle(edges):
    state, stack = {}, []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for d in sorted(edges.get(m, ())):
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state:
                found = visit(d)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(edges):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def main():
    edges = graph()
    for m in sorted(edges):
        print("%-9s -> %s" % (m, " ".join(sorted(edges[m])) or "(leaf)"))
    cycle = find_cycle(edges)
    if cycle:
        print("cycle: " + " -> ".join(cycle))
        return 1
    print("no cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
