"""Union-find: items joined in pairs, read back as groups (people, clusters)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T", bound=Hashable)


class Groups(Generic[T]):
    def __init__(self, items: Iterable[T] = ()) -> None:
        self.parent: dict[T, T] = {item: item for item in items}

    def find(self, item: T) -> T:
        self.parent.setdefault(item, item)
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:  # path compression
            self.parent[item], item = root, self.parent[item]
        return root

    def join(self, one: T, two: T) -> None:
        self.parent[self.find(one)] = self.find(two)

    def groups(self) -> list[list[T]]:
        """Every group, its items in the order they were first seen."""
        found: dict[T, list[T]] = defaultdict(list)
        for item in list(self.parent):
            found[self.find(item)].append(item)
        return list(found.values())
