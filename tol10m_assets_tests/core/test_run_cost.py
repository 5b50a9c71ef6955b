"""The run cost behind the build and backfill estimates: a fixed cost per run plus a cost per image."""

from tol10m_assets.estimate import fit_run_cost


def test_a_fixed_cost_per_run_and_a_cost_per_image_are_fitted():
    cost = fit_run_cost([(100, 5 + 100 * 0.01), (1000, 5 + 1000 * 0.01), (300, 5 + 300 * 0.01)])
    assert abs(cost.per_run - 5) < 1e-9 and abs(cost.per_image - 0.01) < 1e-9 and cost.runs == 3
    assert abs(cost.seconds(10, 10_000) - (50 + 100)) < 1e-6


def test_a_negative_term_is_dropped():
    # noise on small runs: time falls with size → all of it per run
    cost = fit_run_cost([(20, 5.2), (40, 4.8)])
    assert cost.per_image == 0 and abs(cost.per_run - 5.0) < 1e-9
    # all per image when the fitted fixed cost is negative
    cost = fit_run_cost([(100, 0.5), (1000, 10.0)])
    assert cost.per_run == 0 and cost.per_image > 0


def test_one_size_of_run_or_none():
    assert fit_run_cost([]) is None
    assert fit_run_cost([(100, 10.0)]).per_image == 0.1
    assert fit_run_cost([(0, 3.0), (0, 5.0)]).per_run == 4.0
