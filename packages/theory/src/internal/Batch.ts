/**
 * The shared machinery of exact and Monte Carlo expectations: enumerating the groups a bandit can
 * produce, and turning one sampled batch into the policy-gradient estimate of a transform.
 *
 * A batch is B groups of G rollouts; row i belongs to group floor(i / G), has prompt q_i and arm a_i.
 * The transform sees the rewards with group labels 0..B-1 and all-ones response lengths, and the
 * estimate is `g = (1/(B G)) sum_i A_i (e_{a_i} - pi_{q_i})` in block q_i (the paper's Eq. (17):
 * the mean over the Q G rollouts of a mini-batch).
 */
import { InvalidArgumentError } from "@duet/core"
import type { AnyAdvantageTransform, Scores, StepInfo } from "@duet/core"
import type { Bandit } from "../Bandit.js"

/** The distinct groups of one prompt draw, flat: item j has prompt[j], arms[j*G .. j*G+G), weight[j]. */
export interface GroupItems {
  readonly count: number
  readonly groupSize: number
  readonly prompt: Int32Array
  readonly arms: Int32Array
  /** Probability of the item (sums to 1 over items). */
  readonly weight: Float64Array
}

/** "outcomes": every ordered tuple of arms; "multisets": unordered, with multinomial weights. */
export type Method = "outcomes" | "multisets"

const binomial = (n: number, k: number): number => {
  let c = 1
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i
  return c
}

/** Number of distinct groups per draw under `method`. */
export const itemCount = (bandit: Bandit, groupSize: number, method: Method): number => {
  let total = 0
  for (const p of bandit.prompts) {
    const k = p.policy.length
    total += method === "outcomes" ? k ** groupSize : binomial(k + groupSize - 1, groupSize)
  }
  return total
}

/** Enumerates the groups (see `GroupItems`). The caller has checked the count. */
export const groupItems = (bandit: Bandit, groupSize: number, method: Method): GroupItems => {
  const count = itemCount(bandit, groupSize, method)
  const prompt = new Int32Array(count)
  const arms = new Int32Array(count * groupSize)
  const weight = new Float64Array(count)
  let j = 0
  bandit.prompts.forEach((p, q) => {
    const k = p.policy.length
    const w = bandit.weights[q]!
    const tuple = new Int32Array(groupSize)
    if (method === "outcomes") {
      // Odometer over k^G ordered tuples.
      const n = k ** groupSize
      for (let t = 0; t < n; t++) {
        let prob = w
        for (let i = 0; i < groupSize; i++) prob *= p.policy[tuple[i]!]!
        prompt[j] = q
        arms.set(tuple, j * groupSize)
        weight[j++] = prob
        for (let i = groupSize - 1; i >= 0; i--) {
          if (++tuple[i]! < k) break
          tuple[i] = 0
        }
      }
    } else {
      // Non-decreasing tuples = multisets; weight w * G!/prod(n_a!) * prod(pi_a^n_a).
      const visit = (pos: number, from: number): void => {
        if (pos === groupSize) {
          let prob = w
          let remaining = groupSize
          let i = 0
          while (i < groupSize) {
            const a = tuple[i]!
            let m = 0
            while (i < groupSize && tuple[i] === a) {
              m++
              i++
            }
            prob *= binomial(remaining, m) * p.policy[a]! ** m
            remaining -= m
          }
          prompt[j] = q
          arms.set(tuple, j * groupSize)
          weight[j++] = prob
          return
        }
        for (let a = from; a < k; a++) {
          tuple[pos] = a
          visit(pos + 1, a)
        }
      }
      visit(0, 0)
    }
  })
  return { count, groupSize, prompt, arms, weight }
}

/**
 * Runs a transform once from its initial state on `values` (groups given by `group`) and checks
 * the output: one finite advantage per row, else `InvalidArgumentError` naming the transform and
 * the rewards.
 */
export const advantagesOf = (
  transform: AnyAdvantageTransform,
  values: Float64Array,
  group: Int32Array,
  info: StepInfo.StepInfo = { step: 0, lengths: new Int32Array(values.length).fill(1) }
): Float64Array => {
  const scores: Scores.Scores = { values, group }
  const out = transform.update(scores, transform.init(), info)[0]
  if (out.values.length !== values.length) {
    throw new InvalidArgumentError(
      transform.name,
      `returned ${out.values.length} advantages for ${values.length} rollouts; a transform must keep one value per row`
    )
  }
  for (let i = 0; i < values.length; i++) {
    const a = out.values[i]!
    if (!Number.isFinite(a)) {
      throw new InvalidArgumentError(
        transform.name,
        `advantage ${i} is ${a} for rewards [${Array.from(values).join(", ")}]; advantages must be finite`
      )
    }
  }
  return out.values
}

/** Evaluates a transform on batches of one bandit and forms the gradient estimate. */
export class Evaluator {
  readonly rows: number
  private readonly group: Int32Array
  private readonly info: StepInfo.StepInfo

  constructor(
    readonly transform: AnyAdvantageTransform,
    readonly bandit: Bandit,
    readonly groupSize: number,
    readonly groups: number
  ) {
    this.rows = groupSize * groups
    this.group = Int32Array.from({ length: this.rows }, (_, i) => Math.floor(i / groupSize))
    this.info = { step: 0, lengths: new Int32Array(this.rows).fill(1) }
  }

  /** Advantages of the batch whose rows have these prompts and arms. */
  advantages(prompts: Int32Array, arms: Int32Array): Float64Array {
    const values = new Float64Array(this.rows)
    for (let i = 0; i < this.rows; i++) values[i] = this.bandit.prompts[prompts[i]!]!.rewards[arms[i]!]!
    return this.advantagesOfRewards(values)
  }

  /** Advantages for given rewards (one row per rollout, groups of `groupSize` in order). */
  advantagesOfRewards(values: Float64Array): Float64Array {
    return advantagesOf(this.transform, values, this.group, this.info)
  }

  /** Writes `g = (1/n) sum_i A_i (e_{a_i} - pi_{q_i})` into `out` (zeroed first). */
  gradient(prompts: Int32Array, arms: Int32Array, advantages: Float64Array, out: Float64Array): void {
    out.fill(0)
    const n = this.rows
    for (let i = 0; i < n; i++) {
      const a = advantages[i]! / n
      if (a === 0) continue
      const q = prompts[i]!
      const o = this.bandit.offsets[q]!
      const policy = this.bandit.prompts[q]!.policy
      out[o + arms[i]!]! += a
      for (let k = 0; k < policy.length; k++) out[o + k]! -= a * policy[k]!
    }
  }
}
