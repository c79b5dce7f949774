"""Erlang C against published values and against the textbook formula."""

from __future__ import annotations

import math

import pytest

from pvp.staffing import (
    StaffingError,
    answered_within,
    erlang_c,
    estimate,
    mean_wait,
    needed,
    offered_load,
)


def textbook_erlang_c(n: int, a: float) -> float:
    """The formula as printed (factorials): fine for the small n used here."""
    top = a**n / math.factorial(n) * n / (n - a)
    return top / (sum(a**k / math.factorial(k) for k in range(n)) + top)


def test_three_servers_two_erlangs_wait_with_probability_four_ninths() -> None:
    # The classic textbook case (e.g. ErlangC[3, 2] = 4/9).
    assert erlang_c(3, 2.0) == pytest.approx(4 / 9, abs=1e-12)


@pytest.mark.parametrize(
    ("agents", "p_wait", "asa", "within_20s"),
    [
        # Call Centre Helper's worked example: 100 calls per half hour, 180 s handling
        # time (10 erlangs), target 80 % answered within 20 s.
        (11, 0.6821, 122.8, 0.3896),
        (12, 0.4494, 40.4, 0.6402),
        (13, 0.2853, 17.1, 0.7956),
        (14, 0.1741, 7.8, 0.8884),
    ],
)
def test_the_published_call_centre_example(
    agents: int, p_wait: float, asa: float, within_20s: float
) -> None:
    load = offered_load(200, 180)  # 100 per half hour
    assert load == pytest.approx(10.0)
    assert erlang_c(agents, load) == pytest.approx(p_wait, abs=5e-5)
    assert mean_wait(agents, load, 180) == pytest.approx(asa, abs=0.05)
    assert answered_within(agents, load, 180, 20) == pytest.approx(within_20s, abs=5e-5)


def test_fourteen_agents_are_the_fewest_for_80_percent_within_20_seconds() -> None:
    assert needed(200, 180, 20, 0.8) == 14


@pytest.mark.parametrize("n", range(1, 30))
@pytest.mark.parametrize("a", [0.1, 0.5, 1.7, 4.2, 9.99])
def test_the_recursion_agrees_with_the_textbook_formula(n: int, a: float) -> None:
    if a >= n:
        assert erlang_c(n, a) == 1.0
        assert mean_wait(n, a, 300) == math.inf
    else:
        assert erlang_c(n, a) == pytest.approx(textbook_erlang_c(n, a), rel=1e-9)


def test_large_queues_do_not_overflow() -> None:
    # 400 factorial overflows a float; the recursion does not.
    assert 0 < erlang_c(400, 380.0) < 1


def test_more_counsellors_never_wait_longer() -> None:
    waits = [mean_wait(n, 3.3, 600) for n in range(4, 12)]
    assert waits == sorted(waits, reverse=True)


def test_no_calls_need_no_counsellor_and_nobody_staffed_has_no_wait_figure() -> None:
    assert needed(0, 600, 60) == 0
    e = estimate(4.0, 900, 0, 120)
    assert e.staffed == 0 and e.wait_today is None and e.needed >= 2


def test_today_s_staffing_estimate() -> None:
    e = estimate(6.0, 600, 2, 120, 0.8)  # 1 erlang, 2 counsellors
    assert e.load == pytest.approx(1.0)
    assert e.wait_today == pytest.approx(mean_wait(2, 1.0, 600))
    assert e.needed == needed(6.0, 600, 120, 0.8)


@pytest.mark.parametrize(
    "args", [(-1.0, 60.0, 20.0, 0.8), (5.0, 0.0, 20.0, 0.8), (5.0, 60.0, 20.0, 1.0)]
)
def test_bad_figures_are_refused(args: tuple[float, float, float, float]) -> None:
    with pytest.raises(StaffingError):
        needed(*args)
