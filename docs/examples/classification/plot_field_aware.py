"""
======================================================
Field-aware clicks: FFMClassifier against FMClassifier
======================================================

In click data a user may react to *which ad* through one trait (taste) and
to *which device* through another (habit). An FM gives each user a single
factor vector for every pairing, so both effects must share it; a
field-aware FM (:class:`~sklearn_fm.FFMClassifier`) gives each user one
vector per field it meets: one for ads, one for devices, one for hours.

This example generates clicks whose log-odds hold three such unrelated
pairwise effects, fits both models on the same one-hot columns, compares
their ROC curves on held-out rows, and lists the strongest interactions the
FFM learned.
"""

# %%
# Generated clicks with field-dependent interactions
# --------------------------------------------------
# Four categorical fields. User x ad, user x device and ad x hour each have
# an effect of rank 2 of its own, unrelated to the others.
import numpy as np
import pandas as pd

rng = np.random.RandomState(0)
n_samples = 12_000
levels = {"user": 100, "ad": 30, "device": 4, "hour": 6}
codes = {field: rng.randint(n, size=n_samples) for field, n in levels.items()}


def pair_effect(first, second, rank=2):
    left = rng.normal(size=(levels[first], rank))
    right = rng.normal(size=(levels[second], rank))
    return (left @ right.T)[codes[first], codes[second]]


logit = -0.5 + pair_effect("user", "ad") + pair_effect("user", "device")
logit += pair_effect("ad", "hour")
clicked = rng.uniform(size=n_samples) < 1 / (1 + np.exp(-logit))
X = pd.DataFrame({field: code for field, code in codes.items()})
print(f"click rate: {clicked.mean():.3f}")

# %%
# One-hot columns, one field per variable
# ---------------------------------------
# The encoder is given every level, so the columns (and their fields) are the
# same whatever rows it sees: ``fields`` names the field of each column.
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from sklearn_fm import FFMClassifier, FMClassifier

categories = [list(range(n)) for n in levels.values()]
fields = np.repeat(list(levels), list(levels.values()))
X_train, X_test, y_train, y_test = train_test_split(
    X, clicked, test_size=0.25, stratify=clicked, random_state=0
)
models = {
    "FFMClassifier": FFMClassifier(fields=fields, random_state=0),
    "FMClassifier": FMClassifier(random_state=0),
    "LogisticRegression": LogisticRegression(max_iter=1000),
}
scores = {}
for name, model in models.items():
    pipe = make_pipeline(OneHotEncoder(categories=categories), model).fit(X_train, y_train)
    scores[name] = pipe.predict_proba(X_test)[:, 1]
    print(f"{name:>18}: ROC AUC {roc_auc_score(y_test, scores[name]):.3f}")

# %%
# ROC curves
# ----------
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(5, 5))
for name, score in scores.items():
    false_positive, true_positive, _ = roc_curve(y_test, score)
    ax.plot(false_positive, true_positive, label=f"{name} ({roc_auc_score(y_test, score):.3f})")
ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
ax.set(xlabel="false positive rate", ylabel="true positive rate", title="Held-out clicks")
ax.legend(loc="lower right")
plt.show()

# %%
# What the FFM learned
# --------------------
# ``top_interactions`` ranks the pairs by their learned weight,
# ``factors_[i, field of j] @ factors_[j, field of i]``, named after the
# encoder's columns.
encoder = OneHotEncoder(categories=categories).fit(X_train)
ffm = models["FFMClassifier"]
print(ffm.top_interactions(n=8, feature_names=encoder.get_feature_names_out()))
