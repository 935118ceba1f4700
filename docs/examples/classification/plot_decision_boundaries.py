"""
==========================================================
Decision boundaries of FMClassifier, two and three classes
==========================================================

With two features, a Factorization Machine's decision function is
``w0 + w1 x1 + w2 x2 + <v1, v2> x1 x2``: a linear model plus the product of
the two features, so its boundaries are hyperbolas rather than lines. This
lets it separate data a linear classifier cannot, such as the exclusive-or
pattern below.

For more than two classes :class:`~sklearn_fm.FMClassifier` trains one FM
output per class, each with its own factors, and takes the softmax.
"""

# %%
# Two data sets
# -------------
# The exclusive-or of the signs of two features (two classes), and three
# classes whose label depends on the sign of the product and the side of a
# line.
import numpy as np

rng = np.random.RandomState(0)
X = rng.uniform(-2, 2, size=(600, 2))
xor_labels = np.where(X[:, 0] * X[:, 1] > 0, "same sign", "opposite signs")
three_labels = np.select(
    [X[:, 0] * X[:, 1] > 0.5, X[:, 0] + X[:, 1] > 0], ["product > 0.5", "upper right"],
    default="lower left",
)

# %%
# Fit and draw
# ------------
# Each panel colours the plane by the predicted class; the dots are the
# training points. Logistic regression, with the same two inputs, is shown
# for comparison.
import matplotlib.pyplot as plt
from matplotlib.colors import ListedColormap
from sklearn.linear_model import LogisticRegression

from sklearn_fm import FMClassifier

grid_x, grid_y = np.meshgrid(np.linspace(-2, 2, 200), np.linspace(-2, 2, 200))
grid = np.column_stack([grid_x.ravel(), grid_y.ravel()])
colors = ListedColormap(["tab:blue", "tab:orange", "tab:green"])

fig, axes = plt.subplots(2, 2, figsize=(8, 7.2), layout="constrained")
for row, (task, y) in enumerate([("two classes", xor_labels), ("three classes", three_labels)]):
    for col, model in enumerate(
        [FMClassifier(n_factors=2, alpha_factors=1e-3, learning_rate_init=0.05, random_state=0),
         LogisticRegression()]
    ):
        model.fit(X, y)
        # Colour by the position of the predicted label in classes_.
        predicted = np.searchsorted(model.classes_, model.predict(grid))
        ax = axes[row, col]
        ax.contourf(grid_x, grid_y, predicted.reshape(grid_x.shape), alpha=0.3,
                    levels=np.arange(-0.5, 3), cmap=colors)
        ax.scatter(X[:, 0], X[:, 1], c=np.searchsorted(model.classes_, y), cmap=colors,
                   vmin=0, vmax=2, s=8)
        accuracy = model.score(X, y)
        ax.set_title(f"{type(model).__name__}, {task}\ntraining accuracy {accuracy:.2f}")
        print(f"{task:>13}, {type(model).__name__:>18}: training accuracy {accuracy:.3f}")
plt.show()
