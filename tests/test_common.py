"""scikit-learn's own estimator checks."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_fm import FMClassifier, FMRegressor

MINIBATCH_REASON = (
    "Minibatch training: a sample of weight 2 is seen once per epoch, a repeated "
    "sample twice in possibly different batches, so the optimizer's path differs "
    "(scikit-learn declares the same for SGDRegressor)."
)


def expected_failed_checks(estimator):
    return {
        "check_sample_weight_equivalence_on_dense_data": MINIBATCH_REASON,
        "check_sample_weight_equivalence_on_sparse_data": MINIBATCH_REASON,
    }


# The defaults with max_iter=20 pass every check (scikit-learn's own
# MLP and SGD checks run with 100 and 5 iterations).
@parametrize_with_checks(
    [FMRegressor(max_iter=20, random_state=0), FMClassifier(max_iter=20, random_state=0)],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
