"""ONNX export: converters for skl2onnx, registered on request.

skl2onnx converts a scikit-learn model, pipelines included, to an ONNX graph
that runs without Python (ONNX Runtime, for instance). It knows only its own
estimators; :func:`register_onnx_converters` teaches it ours, through its
``update_registered_converter``. The graph computes the same FM as
``fm_decision`` and ``ffm_decision`` in ``_parameters``, in the float type of
its input.

skl2onnx, onnx and ONNX Runtime are an optional extra (``sklearn-fm[onnx]``),
so this module imports them only inside its functions: ``import sklearn_fm``
and the doctests of this module need none of them.
"""

import numpy as np

from ._classifier import FMClassifier
from ._field_aware import FFMClassifier, FFMRegressor
from ._parameters import layer_form
from ._regressor import FMRegressor

_REGRESSORS = (FMRegressor, FFMRegressor)
_CLASSIFIERS = (FMClassifier, FFMClassifier)

# Options of skl2onnx's own classifiers that its classifier parser and its
# ``get_label_classes`` implement for any classifier declaring them: the
# probabilities as a tensor or as dictionaries ("zipmap"), class indices
# instead of labels ("nocl"); and "raw_scores", the decision scores in place
# of the probabilities, which skl2onnx's converters of CalibratedClassifierCV
# and of StackingClassifier(stack_method="decision_function") set on the
# classifiers they hold.
_CLASSIFIER_OPTIONS = {
    "zipmap": [True, False, "columns"],
    "nocl": [True, False],
    "raw_scores": [True, False],
}


def register_onnx_converters():
    """Let skl2onnx convert the estimators of sklearn_fm to ONNX.

    Registers a converter for :class:`FMRegressor`, :class:`FMClassifier`,
    :class:`FFMRegressor` and :class:`FFMClassifier` with skl2onnx, after
    which ``skl2onnx.to_onnx`` and ``skl2onnx.convert_sklearn`` convert them
    and the pipelines that hold them (with a
    :class:`~sklearn.preprocessing.StandardScaler`, a
    :class:`~sklearn.preprocessing.OneHotEncoder` or a
    :class:`~sklearn.compose.ColumnTransformer` before them, for example).
    Calling it again changes nothing.

    The ONNX graph computes the model's outputs in the float type of its
    input, float32 usually: a regressor outputs ``predict`` (shape
    (n_samples, 1)), a classifier the labels of ``predict`` and the
    probabilities of ``predict_proba``. Classifiers take skl2onnx's usual
    options: ``{"zipmap": False}`` for the probabilities as one tensor
    rather than a list of dictionaries (or ``"columns"`` for one output per
    class; ONNX's ZipMap takes float32 only, so float64 input needs one of
    these), and ``{"nocl": True}`` for class indices instead of labels.
    Class labels must be integers that int64 holds (or integral floats, or
    booleans, which come out as int64) or strings; other numeric labels are
    refused with a ValueError (use ``{"nocl": True}``). skl2onnx's
    converters of :class:`~sklearn.calibration.CalibratedClassifierCV` and
    :class:`~sklearn.ensemble.StackingClassifier` get the scores of
    ``decision_function`` from a classifier through the option
    ``{"raw_scores": True}``, as from scikit-learn's own, in place of the
    probabilities. :class:`MultiHotEncoder` and
    :class:`ImplicitFeedbackEncoder` have no converter.

    A model fitted on pandas ``category`` columns, which it encodes itself
    (``is_categorical_`` is not None), is refused when converted: put a
    :class:`~sklearn.preprocessing.OneHotEncoder` before it in a pipeline
    instead, which skl2onnx converts.

    Raises
    ------
    ImportError
        If skl2onnx is not installed; ``pip install "sklearn-fm[onnx]"``
        installs it with onnx and ONNX Runtime.

    See Also
    --------
    FMRegressor.predict : What a converted regressor computes.
    FMClassifier.predict_proba : What a converted classifier computes.

    Notes
    -----
    The pairwise term is computed as ``1/2 sum_f [(sum_i v_if x_i)**2 -
    sum_i v_if**2 x_i**2]``, as in ``predict``. float32 keeps about 7
    significant digits of the two sums, and their difference loses those
    they share: outputs agree with ``predict`` to about 1e-6 on standardised
    or one-hot features, less closely on large ones. Scale the features in
    the pipeline, as for training.

    Examples
    --------
    The lines that need skl2onnx and ONNX Runtime, an optional extra, are
    not run as doctests.

    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_fm import FMRegressor, register_onnx_converters
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 4)).astype(np.float32)
    >>> y = X[:, 0] + 2 * X[:, 1] * X[:, 2]
    >>> model = make_pipeline(StandardScaler(), FMRegressor(n_factors=4, random_state=0))
    >>> model = model.fit(X, y)
    >>> register_onnx_converters()  # doctest: +SKIP
    >>> from skl2onnx import to_onnx  # doctest: +SKIP
    >>> from onnxruntime import InferenceSession  # doctest: +SKIP
    >>> onx = to_onnx(model, X[:1])  # doctest: +SKIP
    >>> session = InferenceSession(  # doctest: +SKIP
    ...     onx.SerializeToString(), providers=["CPUExecutionProvider"]
    ... )
    >>> (predicted,) = session.run(None, {"X": X})  # doctest: +SKIP
    >>> predicted.shape  # doctest: +SKIP
    (200, 1)
    >>> bool(np.allclose(predicted[:, 0], model.predict(X), atol=1e-5))  # doctest: +SKIP
    True
    """
    try:
        from skl2onnx import update_registered_converter
        from skl2onnx.common.shape_calculator import (
            calculate_linear_classifier_output_shapes,
            calculate_linear_regressor_output_shapes,
        )
    except ImportError as error:
        raise ImportError(
            "Exporting sklearn_fm models to ONNX needs skl2onnx, onnx and onnxruntime: "
            'pip install "sklearn-fm[onnx]"'
        ) from error
    regressor_shapes = _checked(calculate_linear_regressor_output_shapes)
    classifier_shapes = _checked(calculate_linear_classifier_output_shapes)
    # The alias is the library's name and the class's, as skl2onnx asks.
    for cls in _REGRESSORS:
        update_registered_converter(
            cls, f"SklearnFm{cls.__name__}", regressor_shapes, _convert_regressor
        )
    for cls in _CLASSIFIERS:
        # With the option "zipmap", skl2onnx parses the model with its
        # classifier parser, which adds the ZipMap after our graph.
        update_registered_converter(
            cls,
            f"SklearnFm{cls.__name__}",
            classifier_shapes,
            _convert_classifier,
            options=_CLASSIFIER_OPTIONS,
        )


def _checked(shape_calculator):
    """``shape_calculator`` refusing the models the converters cannot
    convert: shapes are computed for the whole graph before any converter
    runs, so the error comes before any work is done."""

    # skl2onnx checks the signature of shape calculators: the argument must
    # be named ``operator``.
    def calculate_shapes(operator):
        _check_convertible(operator.raw_operator)
        shape_calculator(operator)

    return calculate_shapes


def _check_convertible(model):
    """Refuse, with a ValueError saying what to do instead, a model whose
    prediction the ONNX graph cannot compute."""
    if getattr(model, "is_categorical_", None) is not None:
        raise ValueError(
            f"This {type(model).__name__} was fitted on categorical columns, which "
            "it one-hot encodes itself; that encoding cannot be exported to ONNX. Put a "
            "sklearn.preprocessing.OneHotEncoder(handle_unknown='ignore') before the "
            "model in a pipeline instead (or fit it with categorical_features=None on "
            "encoded columns), and convert the pipeline."
        )


def _convert_regressor(scope, operator, container):
    """The ONNX graph of ``predict``, (n_samples, 1)."""
    graph = _Graph(scope, container, operator)
    _fm_scores(graph, operator.raw_operator, output=operator.outputs[0].full_name)


def _convert_classifier(scope, operator, container):
    """The ONNX graph of ``predict`` (labels, (n_samples,)) and of
    ``predict_proba`` (n_samples, n_classes), as ``FMClassifier`` computes
    them from the scores."""
    from skl2onnx.common.utils_classifier import get_label_classes

    model = operator.raw_operator
    graph = _Graph(scope, container, operator)
    scores = _fm_scores(graph, model)
    label, probabilities = (variable.full_name for variable in operator.outputs[:2])
    raw_scores = container.get_options(model, {"raw_scores": False})["raw_scores"]
    if len(model.classes_) == 2:
        # One score, the log-odds of classes_[1]; as raw scores, as
        # skl2onnx's binary linear classifiers give them: (-score, score).
        if raw_scores:
            positive, negative = scores, graph.node("Neg", [scores])
        else:
            positive = graph.node("Sigmoid", [scores])
            negative = graph.node("Sub", [graph.constant("one", 1.0), positive])
        graph.node("Concat", [negative, positive], output=probabilities, axis=1)
        # predict takes classes_[1] for a score > 0, not for a probability
        # > 0.5: the two differ once the probability rounds to 0.5.
        is_positive = graph.node("Greater", [scores, graph.constant("zero", 0.0)])
        index = graph.node("Cast", [is_positive], to=graph.onnx_type(np.int64))
        index = graph.node("Reshape", [index, graph.constant("flat", [-1], np.int64)])
    else:
        if raw_scores:
            graph.node("Identity", [scores], output=probabilities)
        else:
            graph.node("Softmax", [scores], output=probabilities, axis=1)
        index = graph.node("ArgMax", [scores], axis=1, keepdims=0)
    # get_label_classes gives class indices with the option "nocl", as the
    # shape calculator and skl2onnx's ZipMap take them.
    classes = _label_tensor(get_label_classes(scope, model))
    classes = graph.constant("classes", classes, classes.dtype)
    graph.node("Gather", [classes, index], output=label, axis=0)


def _label_tensor(classes):
    """The class labels as skl2onnx types a classifier's label output: int64
    for numbers and booleans (scikit-learn's classifiers take only integral
    numbers as labels), UTF-8 strings otherwise."""
    classes = np.asarray(classes)
    if classes.dtype.kind in "biuf":
        labels = classes.astype(np.int64)
        if not np.array_equal(labels, classes):
            raise ValueError(
                "ONNX gives numeric class labels as int64, which cannot hold the labels "
                f"{classes[labels != classes].tolist()} of this classifier. Relabel the "
                "classes (with sklearn.preprocessing.LabelEncoder, for example), or convert "
                "with the option {'nocl': True} to get class indices."
            )
        return labels
    # Encoded here: onnx before 1.15 takes strings only as bytes.
    return np.array([str(label).encode("utf-8") for label in classes], dtype=object)


def _fm_scores(graph, model, output=None):
    """Add the nodes computing the FM outputs (n_samples, n_outputs) of
    ``model`` to ``graph``, as ``fm_decision`` and ``ffm_decision`` compute
    them; return the name of the result (``output`` if given)."""
    bias, kernel, factors = layer_form(model.intercept_, model.coef_, model.factors_)
    fields = getattr(model, "fields_", None)
    if fields is None:
        # An FM is an FFM of one field: the same graph, without the field
        # bookkeeping.
        factors, fields = factors[:, :, None, :], np.zeros(len(factors), dtype=np.int64)
    n_features, n_outputs, n_fields, n_factors = factors.shape
    # The factor vector of each feature for its own field, (n_features, n_outputs, k).
    own = factors[np.arange(n_features), :, fields]
    X = graph.input()
    linear = graph.node("MatMul", [X, graph.constant("coef", kernel)])
    X_squared = graph.node("Mul", [X, X])
    squared = graph.node(
        "MatMul", [X_squared, graph.constant("factors_squared", np.square(own).sum(axis=2))]
    )
    pairs = _pairwise_sums(graph, X, factors, fields)
    # The sum of each output's products, by a column of ones: a constant
    # the size of one output's products, where a 0/1 matrix summing the
    # blocks of all outputs at once was n_outputs times the factors' size.
    ones = graph.constant("ones", np.ones((n_fields * n_fields * n_factors, 1)))
    summed = graph.node("MatMul", [pairs, ones])  # (n_samples, n_outputs, 1)
    crossed = graph.node(
        "Reshape", [summed, graph.constant("by_output", [-1, n_outputs], np.int64)]
    )
    interaction = graph.node(
        "Mul", [graph.node("Sub", [crossed, squared]), graph.constant("half", 0.5)]
    )
    with_linear = graph.node("Add", [graph.constant("intercept", bias), linear])
    return graph.node("Add", [with_linear, interaction], output=output)


def _pairwise_sums(graph, X, factors, fields):
    """The products ``s[r, f, o, g, k] * s[r, g, o, f, k]`` of each output
    ``o``, (n_samples, n_outputs, n_fields * n_fields * k), where ``s[r, f]``
    is the sum of ``x_ri`` times the factors of the features ``i`` of field
    ``f``; for one field, ``(x_r @ V)**2``."""
    n_features, n_outputs, n_fields, n_factors = factors.shape
    flat = factors.reshape(n_features, -1)
    # The widths given, as with no rows a -1 there could not be inferred.
    width = n_fields * n_fields * n_factors
    by_output = graph.constant("by_output", [-1, n_outputs, width], np.int64)
    if n_fields == 1:
        sums = graph.node("MatMul", [X, graph.constant("factors", flat)])
        return graph.node("Reshape", [graph.node("Mul", [sums, sums]), by_output])
    # Each field's columns times their factors: only the model's weights are
    # stored, where one masked matrix per field would store n_fields times
    # as many.
    per_field = []
    for field in range(n_fields):
        columns = np.flatnonzero(fields == field)
        in_field = graph.node("Gather", [X, graph.constant("columns", columns, np.int64)], axis=1)
        per_field.append(
            graph.node("MatMul", [in_field, graph.constant("field_factors", flat[columns])])
        )
    sums = graph.node("Concat", per_field, axis=1)
    shape = [-1, n_fields, n_outputs, n_fields, n_factors]
    sums = graph.node("Reshape", [sums, graph.constant("shape", shape, np.int64)])
    crossed = graph.node("Transpose", [sums], perm=[0, 3, 2, 1, 4])
    products = graph.node("Mul", [sums, crossed])
    outputs_first = graph.node("Transpose", [products], perm=[0, 2, 1, 3, 4])
    return graph.node("Reshape", [outputs_first, by_output])


class _Graph:
    """Adds nodes and constants to the graph skl2onnx is building for one
    operator, each under a fresh name, in the float type of its input."""

    def __init__(self, scope, container, operator):
        import onnx
        from skl2onnx.common.data_types import guess_proto_type

        self._onnx = onnx
        self._scope, self._container, self._operator = scope, container, operator
        self._input_dtype = onnx.helper.tensor_dtype_to_np_dtype(
            guess_proto_type(operator.inputs[0].type)
        )
        # Integer and boolean input is cast to float32, as skl2onnx's shape
        # calculators type the outputs.
        self.float_dtype = np.dtype(np.float64 if self._input_dtype == np.float64 else np.float32)

    def input(self):
        """The name of the operator's input, as floats."""
        name = self._operator.inputs[0].full_name
        if self._input_dtype == self.float_dtype:
            return name
        return self.node("Cast", [name], to=self.onnx_type(self.float_dtype))

    def onnx_type(self, dtype):
        """The ONNX element type of the NumPy type ``dtype``."""
        return self._onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))

    def constant(self, hint, value, dtype=None):
        """The name of a new initializer holding ``value``, of the NumPy type
        ``dtype`` (object for strings), else of the graph's float type."""
        value = np.asarray(value, dtype=self.float_dtype if dtype is None else dtype)
        name = self._scope.get_unique_variable_name(hint)
        self._container.add_initializer(
            name, self.onnx_type(value.dtype), list(value.shape), value.ravel()
        )
        return name

    def node(self, op_type, inputs, output=None, **attributes):
        """Add an ``op_type`` node of ``inputs`` and ``attributes``; return
        the name of its output (``output`` if given, else a new one)."""
        if output is None:
            output = self._scope.get_unique_variable_name(op_type.lower())
        self._container.add_node(
            op_type,
            inputs,
            output,
            name=self._scope.get_unique_operator_name(op_type),
            **attributes,
        )
        return output
