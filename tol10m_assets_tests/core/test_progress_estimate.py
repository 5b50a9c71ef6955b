"""`tol10m build`'s time left: a fixed cost per partition plus a cost per image, fitted on what is done."""

from tol10m_assets.cli import estimate_left


def test_a_fixed_cost_per_partition_is_counted():
    # 10 s a partition + 0.01 s an image; 3 of 10 partitions (100 images each) done after 33 s
    points = [(0, 0, 0.0), (1, 100, 11.0), (2, 200, 22.0), (3, 300, 33.0)]
    assert abs(estimate_left(points, 10, 1000) - (7 * 10 + 700 * 0.01)) < 1e-6
    by_images_only = (1000 - 300) / (300 / 33.0)  # the old estimate: images / measured rate
    assert abs(by_images_only - 77.0) < 1e-6  # equal here: every partition the same size …


def test_small_partitions_first_do_not_make_the_estimate_too_low():
    # … but not when sizes differ: 10 s + 0.01 s/image; two small partitions done, one of 10,000 left
    points = [(1, 10, 10.1), (2, 30, 20.3)]
    left = estimate_left(points, 3, 10_030)
    assert abs(left - (10 + 10_000 * 0.01)) < 1e-3, left


def test_no_estimate_before_the_first_partition():
    assert estimate_left([(0, 0, 0.0)], 5, 100) is None
    assert estimate_left([(1, 50, 5.0)], 3, 150) == 10.0
