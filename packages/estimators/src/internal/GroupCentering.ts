/**
 * Within-group centering shared by the mean and leave-one-out baselines.
 *
 * Each value is first shifted by its group's first value (its anchor), then by the mean of the
 * shifted values. Mathematically this is `x_i - mean_g`; numerically an all-equal group shifts to
 * exact zeros, so its mean and its centred values are exactly 0 (a plain `sum / n` may round, e.g.
 * `(0.1 + 0.1 + 0.1) / 3 != 0.1`), and the sum has less cancellation when rewards sit far from 0.
 */
import { Scores } from "@duet/core"

/** `x_i - mean_{g(i)}` for every row, exactly 0 for rows of all-equal groups. */
export const centerWithinGroups = (values: Float64Array, index: Scores.GroupIndex): Float64Array => {
  const n = values.length
  const anchor = new Float64Array(index.count)
  const anchored = new Uint8Array(index.count)
  const centred = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const g = index.ids[i]!
    if (anchored[g] === 0) {
      anchored[g] = 1
      anchor[g] = values[i]!
    }
    centred[i] = values[i]! - anchor[g]!
  }
  const means = Scores.groupMeans(centred, index)
  for (let i = 0; i < n; i++) centred[i]! -= means[index.ids[i]!]!
  return centred
}
