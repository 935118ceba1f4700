"""Whether two Python threads stepping half a batch each use the second core.

Usage::

    python benchmarks/two_threads.py [--nnz 8192 131072] [--steps 300] [--repeats 3]

A stand-in for the FM's training step, XLA-compiled as the trainer's is:
the gradient of a squared error through a gather of a 9,940 x 32 table (the
ML-1M ids' width and the default ``n_factors``) and two segment sums, for a
batch of ``nnz`` non-zeros in rows of two. Milliseconds per step of the whole
batch on one thread, of its two halves one after the other, and of its two
halves in two Python threads at once (TensorFlow releases the GIL while a
compiled function runs). Medians of ``--repeats`` rounds that alternate the
three. It measures the idea of data parallelism across a step's halves
before building it into the trainer.
"""

import argparse
import os
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

from movielens import machine

N_FEATURES, N_FACTORS = 9_940, 32


def gradient_step(table):
    @tf.function(jit_compile=True)
    def step(cols, rows, y):
        with tf.GradientTape() as tape:
            v = tf.gather(table, cols)
            n_rows = tf.shape(y)[0]
            summed = tf.math.unsorted_segment_sum(v, rows, n_rows)
            squares = tf.math.unsorted_segment_sum(v * v, rows, n_rows)
            prediction = 0.5 * tf.reduce_sum(summed * summed - squares, axis=1)
            loss = tf.reduce_mean((prediction - y) ** 2)
        gradient = tape.gradient(loss, table)
        return gradient.values

    return step


def batch(nnz, rng):
    return (
        tf.constant(rng.randint(N_FEATURES, size=nnz), tf.int32),
        tf.constant(np.repeat(np.arange(nnz // 2), 2), tf.int32),
        tf.constant(rng.normal(size=nnz // 2), tf.float32),
    )


def in_turn(step, batches, n_steps):
    for _ in range(n_steps):
        for part in batches:
            out = step(*part)
    out.numpy()


def in_threads(step, batches, n_steps):
    threads = [threading.Thread(target=in_turn, args=(step, [part], n_steps)) for part in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nnz", type=int, nargs="+", default=[8_192, 131_072])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.RandomState(0)
    table = tf.Variable(rng.normal(scale=0.01, size=(N_FEATURES, N_FACTORS)).astype(np.float32))
    step = gradient_step(table)
    print(f"Machine: {machine()}.\n")
    print("| non-zeros | whole batch, 1 thread (ms/step) | halves in turn | halves, 2 threads |")
    print("| ---: | ---: | ---: | ---: |")
    for nnz in args.nnz:
        whole, halves = [batch(nnz, rng)], [batch(nnz // 2, rng) for _ in range(2)]
        for part in whole + halves:  # compiled before timing
            step(*part)
        contenders = [(in_turn, whole), (in_turn, halves), (in_threads, halves)]
        times = [[] for _ in contenders]
        for _ in range(args.repeats):
            for seconds, (run, batches) in zip(times, contenders):
                start = time.perf_counter()
                run(step, batches, args.steps)
                seconds.append(time.perf_counter() - start)
        cells = [f"{np.median(s) / args.steps * 1e3:.2f}" for s in times]
        print(f"| {nnz:,} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
