"""spec.reduction.memo: the two-generation memo keeps what is used, forgets what is not, counts its hit rate."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spec.reduction.memo import Memo


def test_an_entry_used_each_generation_survives_any_number_of_fills() -> None:
    memo: Memo[int, str] = Memo(4)
    memo.put(0, "hot")
    for k in range(1, 100):
        memo.put(k, str(k))
        assert memo.get(0) == "hot"  # used as often as a generation fills: never lost
    assert len(memo) <= 2 * 4


def test_an_unused_entry_is_forgotten_after_two_generations() -> None:
    memo: Memo[int, str] = Memo(4)
    memo.put(0, "cold")
    for k in range(1, 9):
        memo.put(k, str(k))
    assert memo.get(0) is None
    assert memo.get(8) == "8"


def test_a_cleared_table_would_have_lost_the_hot_entry() -> None:
    """What the old memo did (clear when full) misses where ``Memo`` hits: the counts tell them apart."""
    memo: Memo[int, int] = Memo(8)
    plain: dict[int, int] = {}
    plain_hits = 0
    for k in range(1, 200):
        for key in (0, k):
            if memo.get(key) is None:
                memo.put(key, key + 1)
            if key in plain:
                plain_hits += 1
            else:
                if len(plain) >= 8:
                    plain.clear()
                plain[key] = key + 1
    assert memo.hits == 198 and memo.misses == 200
    assert plain_hits < memo.hits
    assert memo.hit_rate() == pytest.approx(198 / 398)


@given(st.lists(st.tuples(st.integers(0, 30), st.booleans()), max_size=300), st.integers(1, 6))
def test_get_returns_the_last_value_put_or_none(ops: list[tuple[int, bool]], size: int) -> None:
    memo: Memo[int, tuple[int, int]] = Memo(size)
    last: dict[int, tuple[int, int]] = {}
    for step, (key, write) in enumerate(ops):
        if write:
            memo.put(key, (key, step))
            last[key] = (key, step)
        else:
            got = memo.get(key)
            assert got is None or got == last[key]
        assert len(memo) <= 2 * size


def test_a_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        Memo(0)
