"""Parses the hand-written Swift files (package manifest, conveniences, XCTest tests) with
tree-sitter's Swift grammar: a syntax check for machines without a Swift toolchain. It is
NOT a compile (types are not checked); where `swift` exists, test.sh runs `swift test`.

usage: python3 swift_syntax.py FILE.swift...
"""

import sys

import tree_sitter
import tree_sitter_swift

parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_swift.language()))
bad = 0
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        root = parser.parse(f.read()).root_node
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            row, col = node.start_point
            print(f"{path}:{row + 1}:{col + 1}: syntax error ({node.type})", file=sys.stderr)
            bad += 1
        stack.extend(node.children)
if bad or not sys.argv[1:]:
    sys.exit(1)
print(f"swift-syntax: {len(sys.argv) - 1} hand-written Swift files parse")
