/**
 * The DPO view of 2-GRPO ("It Takes Two: Your GRPO is Secretly DPO", Sec. 3-4): a group's
 * rollouts with different rewards form (chosen, rejected) preference pairs, the data DPO
 * (Rafailov et al. 2023) trains on. In a group of two, a discordant pair (r1 != r2) yields one pair
 * with the higher reward as chosen, and a concordant pair (r1 = r2) yields none, exactly where
 * 2-GRPO's advantages are +-1/sqrt 2 and 0. Larger groups yield every discordant pair of rows.
 */
import { Scores } from "@duet/core"
import { checkScores } from "./internal/Checks.js"

export interface PreferencePair {
  /** The group label (as in `scores.group`). */
  readonly group: number
  /** Row index of the rollout with the higher reward. */
  readonly chosen: number
  /** Row index of the rollout with the lower reward. */
  readonly rejected: number
}

/**
 * Every pair of rows (i < j) of one group with `r_i != r_j`, as `{ group, chosen, rejected }` row
 * indices; groups in order of first appearance, then pairs in row order. Singleton groups and
 * concordant pairs yield nothing.
 */
export const preferencePairs = (scores: Scores.Scores): Array<PreferencePair> => {
  checkScores(scores, "preference-pairs")
  const index = Scores.groupIndex(scores)
  const rows: number[][] = Array.from({ length: index.count }, () => [])
  for (let i = 0; i < index.ids.length; i++) rows[index.ids[i]!]!.push(i)
  const pairs: PreferencePair[] = []
  for (let g = 0; g < index.count; g++) {
    const members = rows[g]!
    const group = index.labels[g]!
    for (let a = 0; a < members.length; a++) {
      for (let b = a + 1; b < members.length; b++) {
        const i = members[a]!
        const j = members[b]!
        const ri = scores.values[i]!
        const rj = scores.values[j]!
        if (ri > rj) pairs.push({ group, chosen: i, rejected: j })
        else if (rj > ri) pairs.push({ group, chosen: j, rejected: i })
      }
    }
  }
  return pairs
}
