"""
============================================
The Keras layer in a Keras model of your own
============================================

The estimators train the FM computation of
:class:`sklearn_fm.keras.FactorizationMachine`, a serialisable Keras layer.
Use it directly to put an FM into a larger Keras model, with your own loss,
optimizer and callbacks. It accepts sparse input, so one-hot data is never
densified.

This example builds a logistic FM for clicks on sparse one-hot input, trains
it with ``model.fit`` and plots the training history.
"""

# %%
# Sparse one-hot input
# --------------------
# Users and ads, one-hot encoded by
# :class:`~sklearn.preprocessing.OneHotEncoder` into a SciPy CSR matrix.
# Clicks depend on a user x ad taste.
import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OneHotEncoder

rng = np.random.RandomState(0)
n_samples, n_users, n_ads = 10_000, 300, 60
users, ads = rng.randint(n_users, size=n_samples), rng.randint(n_ads, size=n_samples)
taste = rng.normal(size=(n_users, 2)) @ rng.normal(size=(2, n_ads))
y = (rng.uniform(size=n_samples) < 1 / (1 + np.exp(-1.5 * taste[users, ads]))).astype("float32")
X = OneHotEncoder().fit_transform(np.column_stack([users, ads])).tocsr().astype("float32")
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, random_state=0)
print(f"{X.shape[0]} rows, {X.shape[1]} one-hot columns, {X.nnz} non-zeros")

# %%
# A Keras model around the layer
# ------------------------------
# ``keras.Input(..., sparse=True)`` makes the input a ``tf.SparseTensor``; the
# layer computes the FM in O(n_factors * nnz) per row, and a sigmoid turns
# its output into a click probability. The seeded initializers make the
# starting point reproducible.
import keras

from sklearn_fm.keras import FactorizationMachine

inputs = keras.Input(shape=(X.shape[1],), sparse=True)
fm = FactorizationMachine(
    n_factors=4,
    factors_initializer=keras.initializers.RandomNormal(stddev=0.1, seed=0),
)
outputs = keras.layers.Activation("sigmoid")(fm(inputs))
model = keras.Model(inputs, outputs)
model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=0.01),
    loss="binary_crossentropy",
    metrics=[keras.metrics.AUC(name="auc")],
)
model.summary()

# %%
# Training
# --------
# ``model.fit`` takes the SciPy CSR matrix as it is.
history = model.fit(
    X_train, y_train, validation_data=(X_val, y_val),
    epochs=15, batch_size=256, verbose=0,
)
print(f"validation ROC AUC after 15 epochs: {history.history['val_auc'][-1]:.3f}")

# %%
# History
# -------
# The training loss falls every epoch; the validation loss stops falling
# once the factors start to fit the noise, which is where an
# :class:`~keras.callbacks.EarlyStopping` callback would end training.
import matplotlib.pyplot as plt

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
for key, label in [("loss", "training"), ("val_loss", "validation")]:
    left.plot(history.history[key], label=label)
for key, label in [("auc", "training"), ("val_auc", "validation")]:
    right.plot(history.history[key], label=label)
left.set_ylabel("binary cross-entropy")
right.set_ylabel("ROC AUC")
for ax in (left, right):
    ax.set_xlabel("epoch")
    ax.legend()
plt.show()

# %%
# The learned parameters are the layer's weights: ``fm.bias``, ``fm.kernel``
# (one weight per column) and ``fm.factors`` (one row of factors per column).
print("factors:", tuple(fm.factors.shape))
