"""A research prototype, not the package's trainer: an FM, an FFM, an FFM
whose field vectors share a base and the sum of an FM and an FFM, trained
alike on MovieLens 1M clicks with six fields (user, item, gender, age,
occupation, genres), scored on a validation split of the training part
(the test part is never read). benchmarks/README.md reports the runs
("Six fields with shared vectors").

Usage::

    python benchmarks/ffm_variants.py DATA CONFIG [CONFIG ...]

DATA is the folder of ``ml-1m`` (``../shared/data``). A CONFIG is
``model,key=value,...`` with the keys k, lam, k2, wmult, seed, lr, lin and
sched (const or inv, the rate divided by the epoch); model is one of

- ``fm``: k factors, L2 ``lam`` on them;
- ``ffm``: k factors per field, L2 ``lam`` on them;
- ``shared``: ``v_if = v_i + w_if``, both of k factors, L2 ``lam`` on v and
  ``lam * wmult`` on w;
- ``concat``: an FM of k factors plus an FFM of k2, L2 ``lam`` on the first
  and ``lam * wmult`` on the second.

Each L2 term weighs the rows a batch uses (libFM's SGD penalty). Adam,
logistic loss, batches of 1024, at most 12 epochs, stopping 3 epochs after
the best; prints each epoch and a RESULT line per CONFIG. The runs of the
README: ``fm,lam=1e-2,sched=inv``, ``ffm,k=8,lam=1e-2,sched=inv``,
``ffm,k=32,lam=1e-2,sched=inv``, ``shared,k=32,lam=1e-2,wmult=100,sched=inv``
(and wmult 1, 10), ``concat,k=32,k2=8,lam=1e-2,sched=inv``, with
``seed=1`` for the second seed.
"""
import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import scipy.sparse as sp

MAX_EPOCHS = 12
PATIENCE = 3
BATCH = 1024
LAM_LIN = 1e-2  # L2 on the linear weights, the same for every model (CONFIG key lin)


def build_data(data):
    sys.path.insert(0, str(Path(__file__).parent))
    from sklearn.compose import ColumnTransformer
    from ffm import movielens_blocks
    from movielens import load_split, validation_split
    train, _ = load_split("1m", data)  # the test part is never used
    tr, va = validation_split(train)
    ct = ColumnTransformer(movielens_blocks()).fit(tr)
    fields = np.array([c.split("__")[0] for c in ct.get_feature_names_out()])
    Xtr, Xva = (sp.csr_matrix(ct.transform(f), dtype=np.float32) for f in (tr, va))
    ytr = (tr["rating"] >= 4).to_numpy(np.float32)
    yva = (va["rating"] >= 4).to_numpy(np.float32)
    names, field_id = np.unique(fields, return_inverse=True)
    M = int(max(np.diff(Xtr.indptr).max(), np.diff(Xva.indptr).max()))

    def pad(X):
        n = X.shape[0]
        cols = np.zeros((n, M), np.int32)
        vals = np.zeros((n, M), np.float32)
        counts = np.diff(X.indptr)
        pos = np.arange(X.nnz) - np.repeat(X.indptr[:-1], counts)
        rows = np.repeat(np.arange(n), counts)
        cols[rows, pos] = X.indices
        vals[rows, pos] = X.data
        return cols, vals

    ctr, vtr = pad(Xtr)
    cva, vva = pad(Xva)
    return dict(ctr=ctr, vtr=vtr, ytr=ytr, cva=cva, vva=vva, yva=yva,
                field_id=field_id.astype(np.int32), field_names=names)


def main(data, configs):
    import tensorflow as tf
    from sklearn.metrics import roc_auc_score
    d = build_data(data)
    n_feat = len(d["field_id"])
    n_fields = int(d["field_id"].max()) + 1
    M = d["ctr"].shape[1]
    print(f"# data: train {d['ctr'].shape[0]} val {d['cva'].shape[0]} features {n_feat} "
          f"fields {n_fields} {list(d['field_names'])} max nnz {M} "
          f"mean nnz {np.mean((d['vtr'] != 0).sum(1)):.2f} click rate {d['ytr'].mean():.4f}",
          flush=True)
    field_of = tf.constant(d["field_id"])
    tri = tf.constant(np.triu(np.ones((M, M), np.float32), 1))

    for cfg in configs:
        model, *kvs = cfg.split(",")
        o = dict(kv.split("=") for kv in kvs)
        k = int(o.get("k", 32))
        lam = float(o.get("lam", 1e-2))
        k2 = int(o.get("k2", k))
        wmult = float(o.get("wmult", 1.0))
        seed = int(o.get("seed", 0))
        lr = float(o.get("lr", 0.01))
        lam_lin = lam if o.get("lin") == "tie" else float(o.get("lin", LAM_LIN))
        sched = o.get("sched", "const")  # const, or inv: lr / epoch
        tf.keras.utils.set_random_seed(seed)
        rng = np.random.RandomState(seed)
        init = lambda shape: tf.Variable(rng.normal(0, 0.01, size=shape).astype(np.float32))
        b = tf.Variable(np.float32(np.log(d["ytr"].mean() / (1 - d["ytr"].mean()))))
        w = tf.Variable(tf.zeros([n_feat]))
        params = [b, w]
        use_fm = model in ("fm", "shared", "concat")
        use_ffm = model in ("ffm", "shared", "concat")
        V = W = None
        if use_fm:
            V = init((n_feat, k)); params.append(V)
        if use_ffm:
            kw = k2 if model == "concat" else k
            W = init((n_feat, n_fields, kw)); params.append(W)
        lam_v = lam if model != "ffm" else 0.0
        lam_w = lam if model == "ffm" else lam * wmult
        opt = tf.keras.optimizers.Adam(learning_rate=lr)

        def score(cols, vals, training):
            mask = tf.cast(vals != 0, tf.float32)
            s = b + tf.reduce_sum(tf.gather(w, cols) * vals, 1)
            pen = lam_lin * tf.reduce_sum(tf.square(tf.gather(w, cols)) * mask, 1)
            if use_fm:
                Vg = tf.gather(V, cols)  # (B,M,k)
                if training:
                    pen += lam_v * tf.reduce_sum(tf.reduce_sum(tf.square(Vg), -1) * mask, 1)
            if model in ("fm", "concat"):
                e = Vg * vals[..., None]
                s += 0.5 * tf.reduce_sum(tf.square(tf.reduce_sum(e, 1)) - tf.reduce_sum(tf.square(e), 1), -1)
            if use_ffm:
                Wg = tf.gather(W, cols)  # (B,M,F,kw)
                if training:
                    pen += lam_w * tf.reduce_sum(tf.reduce_sum(tf.square(Wg), [-1, -2]) * mask, 1)
                if model == "shared":
                    Wg = Wg + Vg[:, :, None, :]
                fc = tf.gather(field_of, cols)  # (B,M)
                X1 = tf.gather(Wg, fc, axis=2, batch_dims=1)  # X1[b,a,j] = W[c_a, F(c_j)]
                A = tf.reduce_sum(X1 * tf.transpose(X1, [0, 2, 1, 3]), -1)  # (B,M,M)
                xx = vals[:, :, None] * vals[:, None, :] * tri
                s += tf.reduce_sum(A * xx, [1, 2])
            return s, pen

        @tf.function(reduce_retracing=True)
        def step(cols, vals, y):
            with tf.GradientTape() as tape:
                s, pen = score(cols, vals, True)
                loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=s))
                total = loss + tf.reduce_mean(pen)
            grads = tape.gradient(total, params)
            opt.apply_gradients(zip(grads, params))
            return loss

        @tf.function(reduce_retracing=True)
        def predict(cols, vals):
            return score(cols, vals, False)[0]

        ctr, vtr, ytr = d["ctr"], d["vtr"], d["ytr"]
        n = len(ytr)
        best, best_ep, hist, times = -1.0, 0, [], []
        for ep in range(1, MAX_EPOCHS + 1):
            t0 = time.time()
            opt.learning_rate.assign(lr / ep if sched == "inv" else lr)
            order = np.random.RandomState(1000 * seed + ep).permutation(n)
            tot = 0.0
            for i in range(0, n, BATCH):
                idx = order[i:i + BATCH]
                tot += float(step(ctr[idx], vtr[idx], ytr[idx])) * len(idx)
            dt = time.time() - t0
            times.append(dt)
            preds = np.concatenate([
                predict(d["cva"][i:i + 8192], d["vva"][i:i + 8192]).numpy()
                for i in range(0, len(d["yva"]), 8192)])
            auc = roc_auc_score(d["yva"], preds)
            hist.append(auc)
            print(f"{cfg} epoch {ep} train_logloss {tot / n:.4f} val_auc {auc:.4f} "
                  f"sec {dt:.1f}", flush=True)
            if auc > best:
                best, best_ep = auc, ep
            elif ep - best_ep >= PATIENCE:
                break
        # first epoch includes tracing; report median of epochs 2.. when available
        spe = float(np.median(times[1:])) if len(times) > 1 else times[0]
        print(f"RESULT {cfg} model={model} k={k} k2={k2 if model == 'concat' else '-'} "
              f"lam={lam:g} lam_lin={lam_lin:g} wmult={wmult:g} seed={seed} lr={lr:g} sched={sched} best_auc={best:.4f} "
              f"best_epoch={best_ep} s_per_epoch={spe:.1f} aucs={' '.join(f'{a:.4f}' for a in hist)}",
              flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data", help="the folder holding ml-1m (../shared/data)")
    parser.add_argument("configs", nargs="+", metavar="CONFIG",
                        help="model,key=value,... (see above)")
    args = parser.parse_args()
    main(args.data, args.configs)
