"""Sums of values over repeated keys in TensorFlow, with static shapes.

Both the Keras layers (repeated coordinates of sparse input) and the trainer
(a batch's gradients of one column) sum the entries that share a key. They
sort with ``argsort``: ``tf.sparse.reorder`` and ``tf.unique`` have no XLA
kernel, and a table indexed by key would cost its whole size per step.
"""

from typing import NamedTuple


class KeySums(NamedTuple):
    """Entries sorted by key: the ``order`` that sorts them, whether each
    sorted entry is its key's ``first``, and the ``sums`` of the values over
    the key of each sorted entry."""

    order: object  # int32 (n,)
    first: object  # bool (n,)
    sums: object  # (n, ...) like the values

    def once(self, tf):
        """The sums at each key's first sorted entry and zeros at its others:
        the entries merged without dropping any, so that shapes stay static
        for XLA."""
        shape = tf.concat([[-1], tf.ones_like(tf.shape(self.sums)[1:])], axis=0)
        first = tf.reshape(self.first, shape)  # broadcast over the values' axes
        return tf.where(first, self.sums, tf.zeros_like(self.sums))


def key_sums(tf, key, values):
    """The :class:`KeySums` of ``values`` (n, ...) under ``key`` (n,), with
    ``tf`` the TensorFlow module (loaded by whoever calls)."""
    order = tf.argsort(key, stable=True)
    sorted_key = tf.gather(key, order)
    first = tf.concat(
        [tf.ones_like(sorted_key[:1], tf.bool), sorted_key[1:] != sorted_key[:-1]], axis=0
    )
    number = tf.cumsum(tf.cast(first, tf.int32)) - 1  # of each sorted entry's key
    sums = tf.math.unsorted_segment_sum(tf.gather(values, order), number, tf.shape(key)[0])
    return KeySums(order, first, tf.gather(sums, number))
