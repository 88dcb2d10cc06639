from __future__ import annotations

from irkit.gaps import Gap, fold, folded_count


def test_fold_keeps_a_few_of_each_kind_and_counts_the_rest() -> None:
    gaps = [Gap(f"f.json#{i}", f"malformed record: missing eventTime at {i}") for i in range(200_000)]
    gaps.append(Gap("other.json", "not valid JSON (char 3)"))
    folded = fold(gaps)
    assert len(folded) == 5 + 1 + 1  # five named malformed, the JSON one, one summary
    assert folded[:5] == gaps[:5]
    assert Gap("other.json", "not valid JSON (char 3)") in folded
    summary = folded[-1]
    assert summary.path.startswith("… and 199995 more like f.json#5")
    assert "malformed record" in summary.reason
    assert folded_count(folded) == len(gaps)


def test_fold_is_bounded_by_limit_even_with_many_kinds() -> None:
    gaps = [Gap(f"k{i}", f"kind{i}: x") for i in range(10_000)]
    folded = fold(gaps, limit=20)
    assert len(folded) <= 2 * 20 + 1
    assert folded_count(folded) == 10_000


def test_fold_leaves_small_lists_alone() -> None:
    gaps = [Gap("a", "x: 1"), Gap("b", "y: 2")]
    assert fold(gaps) == gaps
