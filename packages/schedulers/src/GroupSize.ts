/**
 * Group size: how many rollouts each prompt gets.
 *
 * A `GroupSizePolicy` is asked between sampling rounds, per prompt: given the rewards drawn so far
 * for that prompt, how many more rollouts to draw (0 = the group is complete). The pipeline calls
 * `plan(promptId, [], step)` for the first round (it returns `initial`), samples, scores, and calls
 * `plan` again with all rewards so far until it returns 0. Policies are pure: the decision is a
 * function of its arguments only, so a run is reproducible and the policy needs no state.
 *
 * `adaptiveGroupSize` is the adaptive group size the 2-GRPO paper leaves to future work (Sec. 6,
 * "Data Efficiency"; no framework supports it, verl #4585): with G = 2 a concordant pair (both
 * right or both wrong) has advantage 0 and is wasted, so such prompts get more rollouts, up to
 * `max`, until one disagrees.
 */
import { InvalidArgumentError, NonFiniteValueError } from "@duet/core"
import { checkAtLeast, checkInteger } from "./Schedule.js"

export interface GroupSizePolicy {
  readonly name: string
  /** Rollouts every prompt gets in its first round. */
  readonly initial: number
  /** Most rollouts a prompt can get in total. */
  readonly max: number
  /**
   * Rollouts to draw next for `promptId`, given the rewards of its rollouts drawn so far (in draw
   * order) at optimizer step `step`. 0 means the group is complete. Never makes the total exceed
   * `max`; throws `InvalidArgumentError` if `rewardsSoFar` already holds more than `max`.
   */
  plan(promptId: number, rewardsSoFar: ReadonlyArray<number>, step: number): number
}

const checkRewards = (rewards: ReadonlyArray<number>, max: number, name: string): void => {
  for (let i = 0; i < rewards.length; i++) {
    if (!Number.isFinite(rewards[i])) throw new NonFiniteValueError(`${name}: rewardsSoFar`, i, rewards[i]!)
  }
  if (rewards.length > max) {
    throw new InvalidArgumentError(`${name}: rewardsSoFar`, `holds ${rewards.length} rewards, more than max (${max})`)
  }
}

/** Every prompt gets exactly `g` rollouts (`g >= 1`; estimators such as GRPO need `g >= 2`). */
export const fixedGroupSize = (g: number): GroupSizePolicy => {
  const name = "GroupSize.fixedGroupSize"
  checkInteger("g", g, 1, name)
  return {
    name: `fixed-${g}`,
    initial: g,
    max: g,
    plan: (_promptId, rewardsSoFar) => {
      checkRewards(rewardsSoFar, g, name)
      return g - rewardsSoFar.length
    }
  }
}

/**
 * How many more rollouts to draw for a prompt whose `drawn` rewards so far all agree, at step
 * `step`. Must return an integer >= 1 (the policy caps the total at `max`).
 */
export type Growth = (drawn: number, step: number) => number

/** Doubles the group each round: 2 -> 4 -> 8 -> 16. */
export const doubling: Growth = (drawn) => drawn

/** Adds `k` rollouts each round: 2 -> 2+k -> 2+2k ... */
export const addEach = (k: number): Growth => {
  checkInteger("k", k, 1, "GroupSize.addEach")
  return () => k
}

export interface AdaptiveGroupSizeOptions {
  /** First-round rollouts per prompt (>= 2 so a contrast is possible). Default 2 (2-GRPO). */
  readonly initial?: number | undefined
  /** Most rollouts per prompt (>= initial). Default 16 (the paper's baseline 16-GRPO). */
  readonly max?: number | undefined
  /** How many to add when all rewards so far agree. Default `doubling`. */
  readonly grow?: Growth | undefined
  /** Rewards closer than this count as equal (for non-binary rewards). Default 0: exact equality. */
  readonly tolerance?: number | undefined
}

/**
 * The rule, with `n` rewards drawn so far for a prompt:
 * 1. `n < initial`: draw `initial - n` (the first round).
 * 2. some two rewards differ by more than `tolerance` (the group is discordant, so its advantages
 *    are non-zero): draw 0 — the group is complete.
 * 3. all rewards agree and `n < max`: draw `min(grow(n, step), max - n)` more.
 * 4. otherwise (`n = max`): draw 0; the group stays concordant and its advantage is 0.
 *
 * With binary rewards and success probability p, a pair is concordant with probability
 * `p^2 + (1-p)^2`; growing to `max` lowers the chance of a wasted prompt to `p^max + (1-p)^max`
 * at the price of more rollouts on hard (or easy) prompts only (see `expectedOutcome`).
 */
export const adaptiveGroupSize = (opts: AdaptiveGroupSizeOptions = {}): GroupSizePolicy => {
  const name = "GroupSize.adaptiveGroupSize"
  const initial = checkInteger("initial", opts.initial ?? 2, 2, name)
  const max = checkInteger("max", opts.max ?? 16, 2, name)
  if (max < initial) throw new InvalidArgumentError(`${name}.max`, `is ${max}; must be >= initial (${initial})`)
  const grow = opts.grow ?? doubling
  const tolerance = checkAtLeast("tolerance", opts.tolerance ?? 0, 0, name)
  return {
    name: `adaptive-${initial}-to-${max}`,
    initial,
    max,
    plan: (_promptId, rewardsSoFar, step) => {
      checkRewards(rewardsSoFar, max, name)
      const n = rewardsSoFar.length
      if (n < initial) return initial - n
      let lo = Number.POSITIVE_INFINITY
      let hi = Number.NEGATIVE_INFINITY
      for (const r of rewardsSoFar) {
        if (r < lo) lo = r
        if (r > hi) hi = r
      }
      if (hi - lo > tolerance || n >= max) return 0
      const more = grow(n, step)
      if (!Number.isInteger(more) || more < 1) {
        throw new InvalidArgumentError(`${name}.grow`, `returned ${more} for ${n} drawn; must return an integer >= 1`)
      }
      return Math.min(more, max - n)
    }
  }
}

/** Exact consequences of a policy for a prompt with binary rewards (1 with probability p). */
export interface Outcome {
  /** Expected rollouts drawn for the prompt. */
  readonly expectedRollouts: number
  /** Probability the final group holds both a 0 and a 1 (non-zero advantages). */
  readonly contrastProbability: number
}

const binomial = (n: number, k: number): number => {
  let c = 1
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i
  return c
}

/**
 * Exact expectation by enumerating every round's outcomes (by number of successes, weighted by the
 * binomial probability). Assumes the policy depends on the multiset of rewards, not their order
 * (true of the policies here): within a round the rewards are passed successes first.
 * Throws `InvalidArgumentError` if the policy ever plans past its `max`.
 */
export const expectedOutcome = (policy: GroupSizePolicy, p: number, step = 0): Outcome => {
  const name = "GroupSize.expectedOutcome"
  checkAtLeast("p", p, 0, name)
  if (p > 1) throw new InvalidArgumentError(`${name}.p`, `is ${p}; must be in [0, 1]`)
  let expectedRollouts = 0
  let contrastProbability = 0
  const visit = (rewards: number[], prob: number): void => {
    if (prob === 0) return
    const more = policy.plan(0, rewards, step)
    if (rewards.length + more > policy.max) {
      throw new InvalidArgumentError(`${name}: ${policy.name}`, `planned ${more} after ${rewards.length}, past max ${policy.max}`)
    }
    if (more === 0) {
      expectedRollouts += prob * rewards.length
      if (rewards.includes(0) && rewards.includes(1)) contrastProbability += prob
      return
    }
    for (let k = 0; k <= more; k++) {
      const w = binomial(more, k) * p ** k * (1 - p) ** (more - k)
      visit([...rewards, ...Array<number>(k).fill(1), ...Array<number>(more - k).fill(0)], prob * w)
    }
  }
  visit([], 1)
  return { expectedRollouts, contrastProbability }
}
