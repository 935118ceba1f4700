"""
=================================================
Tuning the rank and the penalty with GridSearchCV
=================================================

The two parameters that matter most are ``n_factors``, the rank of the
interactions, and ``alpha_factors``, the L2 penalty on the factors. Too
small a rank cannot represent the interactions; too weak a penalty lets a
large rank fit noise, and too strong a one shrinks real interactions to zero.

This example tunes both with :class:`~sklearn.model_selection.GridSearchCV`
on data whose interactions have rank 4, and shows the mean cross-validated
R² of every pair as a heat map.
"""

# %%
# Data with rank-4 interactions
# -----------------------------
# Twelve standardised features. Every pair interacts, with the weight
# :math:`\langle v_i, v_j \rangle` of planted factor vectors of length 4, and
# the noise is strong enough for overfitting to show.
import numpy as np

rng = np.random.RandomState(0)
n_samples, n_features, rank = 1500, 12, 4
X = rng.normal(size=(n_samples, n_features))
V = rng.normal(scale=0.4, size=(n_features, rank))
pairwise = 0.5 * (((X @ V) ** 2).sum(axis=1) - ((X**2) @ (V**2)).sum(axis=1))
y = X @ rng.normal(size=n_features) + pairwise + rng.normal(size=n_samples)

# %%
# The grid
# --------
# ``n_factors`` on a doubling scale and ``alpha_factors`` on a decade scale,
# as a first search usually goes. Every fit is seeded, so the search is
# reproducible.
from sklearn.model_selection import GridSearchCV, KFold

from sklearn_fm import FMRegressor

param_grid = {
    "n_factors": [1, 2, 4, 8, 16],
    "alpha_factors": [1e-3, 1e-2, 1e-1, 1.0],
}
search = GridSearchCV(
    FMRegressor(random_state=0),
    param_grid,
    cv=KFold(n_splits=3, shuffle=True, random_state=0),
)
search.fit(X, y)
print("best parameters:", search.best_params_)
print(f"best mean R²: {search.best_score_:.3f}")

# %%
# Mean test score of every pair
# -----------------------------
# Below rank 4 the score is limited by what the model can represent,
# whatever the penalty. From rank 4 on it levels off: the extra factors of a
# larger rank cost next to nothing here, as the penalty keeps them small. The
# strongest penalty costs accuracy at every rank by shrinking the real
# interactions. The planted rank, 4, scores as well as 8 and 16 at the
# weaker penalties; the search's pick among those ties is a matter of the
# fourth decimal.
import matplotlib.pyplot as plt

results = search.cv_results_
scores = np.empty((len(param_grid["alpha_factors"]), len(param_grid["n_factors"])))
for params, score in zip(results["params"], results["mean_test_score"]):
    row = param_grid["alpha_factors"].index(params["alpha_factors"])
    col = param_grid["n_factors"].index(params["n_factors"])
    scores[row, col] = score

fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
image = ax.imshow(scores, cmap="viridis", origin="lower")
ax.set_xticks(range(scores.shape[1]), param_grid["n_factors"])
ax.set_yticks(range(scores.shape[0]), param_grid["alpha_factors"])
ax.set_xlabel("n_factors")
ax.set_ylabel("alpha_factors")
for (row, col), score in np.ndenumerate(scores):
    bright = score > scores.min() + 0.6 * np.ptp(scores)
    ax.text(col, row, f"{score:.3f}", ha="center", va="center",
            color="black" if bright else "white")
fig.colorbar(image, label="mean R² on held-out folds")
ax.set_title("GridSearchCV over FMRegressor's rank and penalty")
plt.show()
