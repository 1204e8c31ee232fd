"""The pack memos: bounded by entries or weight, least recently used out, safe across threads."""

from __future__ import annotations

import threading

from prism.pack.memo import Memo


def test_entries_bound_drops_the_least_recently_used() -> None:
    memo: Memo[str, int] = Memo(3)
    for i, key in enumerate("abc"):
        memo.put(key, i)
    assert memo.get("a") == 0  # "a" is now the most recently used
    memo.put("d", 3)
    assert len(memo) == 3
    assert memo.get("b") is None
    assert [memo.get(k) for k in "acd"] == [0, 2, 3]


def test_weight_bound_holds_and_too_heavy_entries_are_not_kept() -> None:
    memo: Memo[str, str] = Memo(10, lambda key, value: len(value))
    memo.put("a", "xxxx")
    memo.put("b", "yyyy")
    memo.put("c", "zzzz")  # 12 > 10: "a" goes
    assert memo.weight == 8 and memo.get("a") is None
    memo.put("b", "y")  # replacing an entry re-weighs it
    assert memo.weight == 5
    memo.put("big", "w" * 11)
    assert memo.get("big") is None and memo.weight == 5
    memo.clear()
    assert len(memo) == 0 and memo.weight == 0


def test_concurrent_use_keeps_the_bound_and_the_weight_exact() -> None:
    memo: Memo[int, str] = Memo(500, lambda key, value: len(value))

    def work(seed: int) -> None:
        for i in range(2_000):
            key = (i * 7 + seed) % 300
            found = memo.get(key)
            assert found is None or found == "v" * (key % 9 + 1)
            memo.put(key, "v" * (key % 9 + 1))

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kept = [memo.get(key) for key in range(300)]
    assert memo.weight == sum(len(value) for value in kept if value is not None) <= 500
