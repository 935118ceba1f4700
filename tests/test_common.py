"""scikit-learn's own estimator checks."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_fm import FFMClassifier, FFMRegressor, FMClassifier, FMRegressor
from sklearn_fm import ImplicitFeedbackEncoder, MultiHotEncoder

SAMPLE_WEIGHT_REASON = (
    "Weights are not counts of repetitions: training is invariant to their scale "
    "(weights times 1e300 train the same model), and the batch size ('auto'), the "
    "alpha_linear and alpha_uniform priors and alpha_factors='auto' (the interaction "
    "noise level of random signs, one per row, which falls with the number of rows) "
    "count rows. Here 15 weighted rows train in one batch with the priors / 15, the "
    "~30 repeated ones in two batches with the priors / 30; with one batch and no "
    "penalties (alpha_factors=0 too) the two fits agree within 1e-4 relative, "
    "float32 round-off carried through 20 epochs, above the check's rtol of 1e-7. "
    "scikit-learn declares the same checks for SGDRegressor."
)


TWO_COLUMNS_REASON = (
    "ImplicitFeedbackEncoder reads exactly two columns, user and item, and refuses "
    "other column counts; these checks give it 1, 3 or more columns (or expect "
    "their own words in the error about a table of 1 sample or 1 feature)."
)
TWO_COLUMN_CHECKS = [
    "check_fit_score_takes_y", "check_dont_overwrite_parameters",
    "check_n_features_in_after_fitting", "check_positive_only_tag_during_fit",
    "check_estimators_dtypes", "check_dtype_object", "check_pipeline_consistency",
    "check_estimators_nan_inf", "check_estimators_pickle", "check_f_contiguous_array_estimator",
    "check_transformer_data_not_an_array", "check_transformer_general",
    "check_transformer_preserve_dtypes", "check_methods_sample_order_invariance",
    "check_methods_subset_invariance", "check_fit2d_1sample", "check_fit2d_1feature",
    "check_dict_unchanged", "check_fit2d_predict1d",
]


def expected_failed_checks(estimator):
    if isinstance(estimator, MultiHotEncoder):  # fit takes no sample_weight
        return {}
    if isinstance(estimator, ImplicitFeedbackEncoder):
        return dict.fromkeys(TWO_COLUMN_CHECKS, TWO_COLUMNS_REASON)
    return {
        "check_sample_weight_equivalence_on_dense_data": SAMPLE_WEIGHT_REASON,
        "check_sample_weight_equivalence_on_sparse_data": SAMPLE_WEIGHT_REASON,
    }


# The defaults with max_iter=20 pass every other check (scikit-learn's
# own MLP and SGD checks run with 100 and 5 iterations).
@parametrize_with_checks(
    [
        FMRegressor(max_iter=20, random_state=0),
        FMClassifier(max_iter=20, random_state=0),
        FFMRegressor(max_iter=20, random_state=0),
        FFMClassifier(max_iter=20, random_state=0),
        MultiHotEncoder(),
        ImplicitFeedbackEncoder(),
    ],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
