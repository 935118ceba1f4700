"""A research prototype, not the package's trainer: an FM, an FFM, an FFM
whose field vectors share a base and the sum of an FM and an FFM, trained
alike on MovieLens 1M clicks with six fields (user, item, gender, age,
occupation, genres), scored on a validation split of the training part
(the test part is never read); and FFMs started from a trained FM.
benchmarks/README.md reports the runs ("Six fields with shared vectors",
"An FFM started from the FM").

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
  and ``lam * wmult`` on the second;
- ``fm2ffm``: first the ``fm`` of the same k, lam, lr, sched, seed and lin,
  kept at its best validation epoch; then an FFM whose every field vector
  ``W[i, f]`` starts at that FM's ``V[i]`` (so epoch 0 is the FM), trained
  on with a fresh Adam at ``lr2`` (schedule ``sched2``), L2 ``lam2`` on W,
  and a penalty ``pull * sum_f ||W[i, f] - T[i]||^2`` with T the FM's
  ``V[i]`` (``pullto=fm``) or ``mean_f W[i, f]`` (``pullto=mean``);
- ``fm2shared``: the same start as ``v_if = V[i] + D[i, f]``, D at zero, L2
  ``lam2`` on V and ``lam2 * wmult`` on D;
- ``fm2fm``: the control, the FM itself trained on in the same way.

The second stage's keys default to lr2=0.001, lam2=lam, pull=0,
pullto=fm, sched2=const; its epoch 0 (the FM) is its first best, so
``best_epoch=0`` in its RESULT line means nothing beat the FM. One process
trains each FM once for the second stages that share it.

Each L2 term weighs the rows a batch uses (libFM's SGD penalty). Adam,
logistic loss, batches of 1024, at most 12 epochs, stopping 3 epochs after
the best; prints each epoch and a RESULT line per CONFIG. The runs of the
README: ``fm,lam=1e-2,sched=inv``, ``ffm,k=8,lam=1e-2,sched=inv``,
``ffm,k=32,lam=1e-2,sched=inv``, ``shared,k=32,lam=1e-2,wmult=100,sched=inv``
(and wmult 1, 10), ``concat,k=32,k2=8,lam=1e-2,sched=inv``, with
``seed=1`` for the second seed; and the second stages listed there.
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

    def make_score(kind, b, w, V, W, lam_lin, lam_v, lam_w, pull=0.0, pullto="fm", V0=None):
        """kind: fm, ffm (W only), shared (W + V), concat (FM on V + FFM on W)."""
        use_fm = kind in ("fm", "shared", "concat")
        use_ffm = kind in ("ffm", "shared", "concat")

        def score(cols, vals, training):
            mask = tf.cast(vals != 0, tf.float32)
            s = b + tf.reduce_sum(tf.gather(w, cols) * vals, 1)
            pen = lam_lin * tf.reduce_sum(tf.square(tf.gather(w, cols)) * mask, 1)
            if use_fm:
                Vg = tf.gather(V, cols)  # (B,M,k)
                if training and lam_v:
                    pen += lam_v * tf.reduce_sum(tf.reduce_sum(tf.square(Vg), -1) * mask, 1)
            if kind in ("fm", "concat"):
                e = Vg * vals[..., None]
                s += 0.5 * tf.reduce_sum(tf.square(tf.reduce_sum(e, 1)) - tf.reduce_sum(tf.square(e), 1), -1)
            if use_ffm:
                Wg = tf.gather(W, cols)  # (B,M,F,kw)
                if training and lam_w:
                    pen += lam_w * tf.reduce_sum(tf.reduce_sum(tf.square(Wg), [-1, -2]) * mask, 1)
                if training and pull:
                    if pullto == "fm":
                        T = tf.gather(V0, cols)[:, :, None, :]
                    else:
                        T = tf.reduce_mean(Wg, 2, keepdims=True)
                    pen += pull * tf.reduce_sum(tf.reduce_sum(tf.square(Wg - T), [-1, -2]) * mask, 1)
                if kind == "shared":
                    Wg = Wg + Vg[:, :, None, :]
                fc = tf.gather(field_of, cols)  # (B,M)
                X1 = tf.gather(Wg, fc, axis=2, batch_dims=1)  # X1[b,a,j] = W[c_a, F(c_j)]
                A = tf.reduce_sum(X1 * tf.transpose(X1, [0, 2, 1, 3]), -1)  # (B,M,M)
                xx = vals[:, :, None] * vals[:, None, :] * tri
                s += tf.reduce_sum(A * xx, [1, 2])
            return s, pen
        return score

    def fit(tag, params, score, lr, sched, seed, shuffle_base, start_auc=None):
        """Adam on params; returns (best, best_ep, hist, times, snapshot of params at best).
        With start_auc, epoch 0 (the starting params) counts as the first best."""
        opt = tf.keras.optimizers.Adam(learning_rate=lr)

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

        def val_auc():
            preds = np.concatenate([
                predict(d["cva"][i:i + 8192], d["vva"][i:i + 8192]).numpy()
                for i in range(0, len(d["yva"]), 8192)])
            return roc_auc_score(d["yva"], preds)

        ctr, vtr, ytr = d["ctr"], d["vtr"], d["ytr"]
        n = len(ytr)
        best, best_ep, hist, times = -1.0, 0, [], []
        snap = [p.numpy().copy() for p in params]
        if start_auc is not None:
            a0 = val_auc()
            print(f"{tag} epoch 0 val_auc {a0:.6f} (start {start_auc:.6f}, "
                  f"diff {a0 - start_auc:+.2e})", flush=True)
            best, hist = a0, [a0]
        for ep in range(1, MAX_EPOCHS + 1):
            t0 = time.time()
            opt.learning_rate.assign(lr / ep if sched == "inv" else lr)
            order = np.random.RandomState(shuffle_base + ep).permutation(n)
            tot = 0.0
            for i in range(0, n, BATCH):
                idx = order[i:i + BATCH]
                tot += float(step(ctr[idx], vtr[idx], ytr[idx])) * len(idx)
            dt = time.time() - t0
            times.append(dt)
            auc = val_auc()
            hist.append(auc)
            print(f"{tag} epoch {ep} train_logloss {tot / n:.4f} val_auc {auc:.4f} "
                  f"sec {dt:.1f}", flush=True)
            if auc > best:
                best, best_ep = auc, ep
                snap = [p.numpy().copy() for p in params]
            elif ep - best_ep >= PATIENCE:
                break
        return best, best_ep, hist, times, snap

    def spe_of(times):
        # first epoch includes tracing; median of epochs 2.. when available
        return float(np.median(times[1:])) if len(times) > 1 else times[0]

    trained = {}  # the best parameters of each FM, for the second stages that share it

    def fm_key(k, lam, lr, sched, seed, lam_lin):
        return (k, lam, lr, sched, seed, lam_lin)

    def trained_fm(cfg, k, lam, lr, sched, seed, lam_lin):
        key = fm_key(k, lam, lr, sched, seed, lam_lin)
        if key in trained:
            return trained[key]
        tf.keras.utils.set_random_seed(seed)
        rng = np.random.RandomState(seed)
        b = tf.Variable(np.float32(np.log(d["ytr"].mean() / (1 - d["ytr"].mean()))))
        w = tf.Variable(tf.zeros([n_feat]))
        V = tf.Variable(rng.normal(0, 0.01, size=(n_feat, k)).astype(np.float32))
        score = make_score("fm", b, w, V, None, lam_lin, lam, 0.0)
        best, ep, hist, times, snap = fit(f"{cfg} [fm]", [b, w, V], score, lr, sched,
                                          seed, 1000 * seed)
        print(f"# {cfg}: FM best_auc {best:.6f} epoch {ep} s_per_epoch {spe_of(times):.1f} "
              f"aucs {' '.join(f'{a:.4f}' for a in hist)}", flush=True)
        trained[key] = (*snap, best, ep, spe_of(times))
        return trained[key]

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

        if model in ("fm2ffm", "fm2shared", "fm2fm"):
            lr2 = float(o.get("lr2", 1e-3))
            lam2 = float(o.get("lam2", lam))
            pull = float(o.get("pull", 0.0))
            pullto = o.get("pullto", "fm")
            sched2 = o.get("sched2", "const")
            b0, w0, V0, fm_auc, fm_ep, fm_spe = trained_fm(cfg, k, lam, lr, sched, seed, lam_lin)
            tf.keras.utils.set_random_seed(seed)
            b = tf.Variable(np.float32(b0))
            w = tf.Variable(w0)
            if model == "fm2ffm":
                W = tf.Variable(np.repeat(V0[:, None, :], n_fields, 1))
                Vc = tf.constant(V0)
                params = [b, w, W]
                score = make_score("ffm", b, w, None, W, lam_lin, 0.0, lam2, pull, pullto, Vc)
            elif model == "fm2fm":  # control: the FM itself, trained on the same way
                V = tf.Variable(V0)
                params = [b, w, V]
                score = make_score("fm", b, w, V, None, lam_lin, lam2, 0.0)
            else:
                V = tf.Variable(V0)
                D = tf.Variable(tf.zeros([n_feat, n_fields, k]))
                params = [b, w, V, D]
                score = make_score("shared", b, w, V, D, lam_lin, lam2, lam2 * wmult)
            best, best_ep, hist, times, _ = fit(cfg, params, score, lr2, sched2, seed,
                                                1000 * seed + 500, start_auc=fm_auc)
            print(f"RESULT {cfg} model={model} k={k} lam={lam:g} lr={lr:g} sched={sched} "
                  f"seed={seed} fm_auc={fm_auc:.4f} fm_epoch={fm_ep} fm_s_per_epoch={fm_spe:.1f} "
                  f"lr2={lr2:g} lam2={lam2:g} pull={pull:g} pullto={pullto} wmult={wmult:g} "
                  f"sched2={sched2} epoch0_auc={hist[0]:.6f} best_auc={best:.4f} "
                  f"best_epoch={best_ep} gain={best - fm_auc:+.4f} s_per_epoch={spe_of(times):.1f} "
                  f"aucs={' '.join(f'{a:.4f}' for a in hist)}", flush=True)
            continue

        # the original models, unchanged in behaviour
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
        score = make_score(model, b, w, V, W, lam_lin, lam_v, lam_w)
        best, best_ep, hist, times, snap = fit(cfg, params, score, lr, sched, seed, 1000 * seed)
        if model == "fm":  # the start of the second stages of this FM
            trained[fm_key(k, lam, lr, sched, seed, lam_lin)] = (
                *snap, best, best_ep, spe_of(times))
        print(f"RESULT {cfg} model={model} k={k} k2={k2 if model == 'concat' else '-'} "
              f"lam={lam:g} lam_lin={lam_lin:g} wmult={wmult:g} seed={seed} lr={lr:g} sched={sched} best_auc={best:.4f} "
              f"best_epoch={best_ep} s_per_epoch={spe_of(times):.1f} aucs={' '.join(f'{a:.4f}' for a in hist)}",
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
