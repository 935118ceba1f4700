"""
=============================================
What the model learned: pairwise interactions
=============================================

A fitted FM holds its interaction weights in factorised form: the weight of
the pair of features ``i`` and ``j`` is ``factors_[i] @ factors_[j]``, so
``factors_ @ factors_.T`` is the whole matrix of learned interactions (its
diagonal is not used by the model).

Here the data come from a planted FM with known factors, and the learned
interaction matrix is compared with the planted one.
"""

# %%
# A planted Factorization Machine
# -------------------------------
# Ten standardised features, planted factors of rank 2, a linear term and
# some noise.
import numpy as np

rng = np.random.RandomState(0)
n_samples, n_features, rank = 4000, 10, 2
X = rng.normal(size=(n_samples, n_features))
planted_factors = rng.normal(scale=0.7, size=(n_features, rank))
planted = planted_factors @ planted_factors.T
pairwise = 0.5 * (((X @ planted_factors) ** 2).sum(axis=1)
                  - ((X**2) @ (planted_factors**2)).sum(axis=1))
y = 1.0 + X @ rng.normal(size=n_features) + pairwise + 0.3 * rng.normal(size=n_samples)

# %%
# Fit
# ---
# The model gets more factors than were planted, and a light penalty so that
# the interactions are not shrunk much.
from sklearn_fm import FMRegressor

model = FMRegressor(n_factors=4, alpha_factors=1e-3, random_state=0).fit(X, y)
learned = model.factors_ @ model.factors_.T
upper = np.triu_indices(n_features, k=1)
error = np.abs(learned[upper] - planted[upper])
print(f"R² on the training data: {model.score(X, y):.3f}")
print(f"largest planted interaction: {np.abs(planted[upper]).max():.2f}")
print(f"mean absolute error of the {len(error)} learned interactions: {error.mean():.3f}")

# %%
# Planted and learned interactions
# --------------------------------
# The two matrices side by side, without their diagonals, which the model
# does not use, and each learned weight against its planted value.
import matplotlib.pyplot as plt

off_diagonal = ~np.eye(n_features, dtype=bool)
limit = np.abs(planted[off_diagonal]).max()
fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), layout="constrained")
for ax, matrix, title in [
    (axes[0], planted, "planted ⟨vᵢ, vⱼ⟩"),
    (axes[1], learned, "learned factors_ @ factors_.T"),
]:
    image = ax.imshow(np.where(off_diagonal, matrix, np.nan), cmap="RdBu_r",
                      vmin=-limit, vmax=limit)
    ax.set_title(title)
    ax.set_xlabel("feature j")
    ax.set_ylabel("feature i")
fig.colorbar(image, ax=axes[:2], label="interaction weight")

axes[2].scatter(planted[upper], learned[upper], s=12)
axes[2].plot([-limit, limit], [-limit, limit], color="grey", linestyle="--")
axes[2].set_xlabel("planted weight")
axes[2].set_ylabel("learned weight")
axes[2].set_title("each pair i < j")
plt.show()
