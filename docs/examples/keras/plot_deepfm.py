"""
=======================================================
DeepFM: an FM and a deep tower on the same embeddings
=======================================================

A Factorization Machine models every pairwise interaction between fields
through the inner products of their factor vectors, but nothing of higher
order. DeepFM (Guo et al., 2017) adds a small neural network that reads the
*same* factor vectors, concatenated, and adds its output to the FM's logit:
the FM keeps the pairwise structure that it learns well from sparse data,
and the deep tower can pick up what is left.

This example builds a DeepFM in Keras with
:func:`sklearn_fm.keras.fm_outputs` as its FM part, trains it with
``model.fit`` on generated clicks that contain a three-way interaction, and
compares it by held-out ROC AUC with :class:`~sklearn_fm.FMClassifier` and
:class:`~sklearn.linear_model.LogisticRegression` on the one-hot encoded
fields.
"""

# %%
# Generated clicks
# ----------------
# Four categorical fields, a few hundred ids in all. Each id has a main
# effect on the log-odds of a click; users have a rank-2 taste for ads and
# each site its own pattern over the hours, both pairwise effects that an FM
# represents. On top of that, the click depends on the *product* of a latent
# value of the ad, of the site and of the hour: a three-way interaction,
# which no second-order FM can express exactly.
import numpy as np
from sklearn.model_selection import train_test_split

rng = np.random.RandomState(0)
n_samples = 20_000
levels = {"user": 200, "ad": 50, "site": 20, "hour": 24}
ids = {field: rng.randint(n, size=n_samples) for field, n in levels.items()}
logit = -1.0 + sum(0.5 * rng.normal(size=n)[ids[field]] for field, n in levels.items())
taste = rng.normal(size=(levels["user"], 2)) @ rng.normal(size=(2, levels["ad"]))
logit += taste[ids["user"], ids["ad"]]
logit += 0.7 * rng.normal(size=(levels["site"], levels["hour"]))[ids["site"], ids["hour"]]
ad_value, site_value, hour_value = (rng.normal(size=levels[f]) for f in ("ad", "site", "hour"))
logit += ad_value[ids["ad"]] * site_value[ids["site"]] * hour_value[ids["hour"]]
y = (rng.uniform(size=n_samples) < 1 / (1 + np.exp(-logit))).astype("float32")

# One integer column per field; the true logit is kept only to score an oracle.
X = np.column_stack([ids[field] for field in levels])
X_train, X_test, y_train, y_test, _, logit_test = train_test_split(
    X, y, logit, test_size=0.25, stratify=y, random_state=0
)
print(f"{n_samples} rows, {sum(levels.values())} ids in {len(levels)} fields")
print(f"click rate: {y.mean():.3f}")

# %%
# Two baselines on the one-hot columns
# ------------------------------------
# :class:`~sklearn.preprocessing.OneHotEncoder` turns the four id columns
# into one sparse column per id. Logistic regression gives each id a weight;
# :class:`~sklearn_fm.FMClassifier` adds the pairwise interactions, with its
# defaults.
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from sklearn_fm import FMClassifier

baselines = {
    "FMClassifier": make_pipeline(
        OneHotEncoder(handle_unknown="ignore"), FMClassifier(random_state=0)
    ),
    "LogisticRegression": make_pipeline(
        OneHotEncoder(handle_unknown="ignore"), LogisticRegression()
    ),
}
probabilities = {}
for name, model in baselines.items():
    model.fit(X_train, y_train)
    probabilities[name] = model.predict_proba(X_test)[:, 1]  # classes_ are [0., 1.]

# %%
# Shared embeddings
# -----------------
# On a one-hot row, an FM only ever touches the factor vectors of the ids
# present, one per field. So the FM's factor matrix ``V`` can be a
# :class:`keras.layers.Embedding` over all ids (each field's ids shifted by
# an offset, so they index one table, one row per one-hot column), and its
# linear weights ``w`` an ``Embedding`` of width 1.
#
# :func:`~sklearn_fm.keras.fm_outputs` computes the FM on parameters already
# gathered by column: here the looked-up rows, with every value 1 and one
# output row per input row. The deep tower flattens the same looked-up
# factors into the concatenation of the field embeddings and passes it
# through two ``Dense`` layers. Both parts read one variable, so the deep
# tower's gradient also trains the FM's factors, as in DeepFM. (The layer
# :class:`~sklearn_fm.keras.FactorizationMachine` owns its factors and reads
# a one-hot matrix; sharing them would mean slicing ``layer.factors`` per
# field, where the ``Embedding`` does the look-up for both parts.)
import keras
from keras import ops

from sklearn_fm.keras import fm_outputs

# Seeds Python, NumPy and the backend at once, for the initializers, the
# shuffling and the dropout. Fine in a script of your own; a library should
# not reset global seeds for its users.
keras.utils.set_random_seed(0)

n_fields, n_ids, n_factors = len(levels), sum(levels.values()), 16
offsets = np.cumsum([0, *levels.values()])[:-1]


class FMOnEmbeddings(keras.layers.Layer):
    """The FM logit of one-hot rows from their looked-up factors and weights."""

    def build(self, input_shape):
        self.bias = self.add_weight(name="bias", shape=(1,), initializer="zeros")

    def call(self, inputs):
        factors, weights = inputs  # (batch, n_fields, n_factors), (batch, n_fields, 1)
        n_rows = ops.shape(factors)[0]
        outputs, _ = fm_outputs(
            self.bias,
            ops.reshape(weights, (-1, 1)),
            ops.reshape(factors, (-1, 1, n_factors)),
            ops.ones((n_rows * n_fields,), dtype=factors.dtype),
            ops.repeat(ops.arange(n_rows), n_fields),
            n_rows,
        )
        return outputs

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 1)


inputs = keras.Input(shape=(n_fields,), dtype="int32", name="ids")
embedding = keras.layers.Embedding(
    n_ids, n_factors,
    embeddings_initializer=keras.initializers.RandomNormal(stddev=0.05),
    embeddings_regularizer=keras.regularizers.L2(3e-4),
    name="factors",
)
factors = embedding(inputs)
weights = keras.layers.Embedding(n_ids, 1, embeddings_initializer="zeros", name="weights")(inputs)
fm_logit = FMOnEmbeddings(name="fm")([factors, weights])

deep = keras.layers.Flatten()(factors)
for _ in range(2):
    deep = keras.layers.Dense(128, activation="relu")(deep)
    deep = keras.layers.Dropout(0.5)(deep)
deep_logit = keras.layers.Dense(1, name="deep_logit")(deep)

outputs = keras.layers.Activation("sigmoid")(keras.layers.Add()([fm_logit, deep_logit]))
deepfm = keras.Model(inputs, outputs)
deepfm.compile(
    optimizer=keras.optimizers.Adam(learning_rate=0.002),
    loss="binary_crossentropy",
    metrics=[keras.metrics.AUC(name="auc")],
)
deepfm.summary()

# %%
# Training
# --------
# The model takes the ids shifted into the shared table. A tenth of the
# training rows is held out for :class:`~keras.callbacks.EarlyStopping`,
# which keeps the weights of the epoch with the best validation AUC.
history = deepfm.fit(
    X_train + offsets, y_train,
    validation_split=0.1, epochs=40, batch_size=256, verbose=0,
    callbacks=[keras.callbacks.EarlyStopping(
        monitor="val_auc", mode="max", patience=3, restore_best_weights=True
    )],
)
print(f"stopped after {len(history.history['loss'])} epochs, "
      f"best validation ROC AUC {max(history.history['val_auc']):.3f}")
probabilities["DeepFM"] = deepfm.predict(X_test + offsets, batch_size=2048, verbose=0)[:, 0]

# %%
# The FM part is a Factorization Machine
# --------------------------------------
# With the embedding table as its factors, the project's layer on the dense
# one-hot rows gives the FM part's logit, up to rounding.
from sklearn_fm.keras import FactorizationMachine

rows = X_test[:5] + offsets
one_hot = np.zeros((len(rows), n_ids), dtype="float32")
np.put_along_axis(one_hot, rows, 1.0, axis=1)
layer = FactorizationMachine(n_factors=n_factors)
layer.build((None, n_ids))
layer.set_weights([
    deepfm.get_layer("fm").bias.numpy(),
    deepfm.get_layer("weights").embeddings.numpy(),
    embedding.embeddings.numpy()[:, None, :],
])
fm_part = keras.Model(inputs, fm_logit)
difference = ops.convert_to_numpy(layer(one_hot)) - ops.convert_to_numpy(fm_part(rows))
print(f"largest difference: {np.abs(difference).max():.1e}")

# %%
# Held-out clicks
# ---------------
# The oracle ranks by the true log-odds: no model can beat its AUC on these
# rows, and what is left below it is the noise of the clicks themselves.
print(f"{'':>18}  ROC AUC  log-loss")
for name, proba in probabilities.items():
    print(f"{name:>18}  {roc_auc_score(y_test, proba):7.3f}  {log_loss(y_test, proba):8.3f}")
print(f"{'oracle':>18}  {roc_auc_score(y_test, logit_test):7.3f}")

# %%
# The two FMs rank clicks far better than logistic regression, to which the
# interactions are invisible. DeepFM is ahead of :class:`~sklearn_fm.FMClassifier`
# in ROC AUC, but only by a small margin, with about the same log-loss: the
# three-way term is one effect among several, and the ad x site x hour
# combinations outnumber the training rows, so the deep tower sees little of
# each. Both stay well short of the oracle.
import matplotlib.pyplot as plt
from sklearn.metrics import RocCurveDisplay

fig, ax = plt.subplots(figsize=(4.8, 4.5), layout="constrained")
for name, proba in probabilities.items():
    RocCurveDisplay.from_predictions(y_test, proba, name=name, ax=ax)
ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
ax.legend(loc="lower right")
ax.set_title("Held-out clicks")
plt.show()
