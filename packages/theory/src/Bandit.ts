/**
 * Small softmax bandits: the setting in which duet computes expected policy gradients EXACTLY.
 *
 * A bandit has one or more prompts (contexts). Prompt q has K_q arms, a tabular softmax policy
 * `pi_q = softmax(theta_q)` over its logits, and a reward per arm (0/1 in the RLVR case, any finite
 * number allowed). Prompts are drawn with fixed probabilities w_q (uniform by default), so the
 * objective is `J(theta) = sum_q w_q sum_k pi_qk r_qk` and, since d log pi_q(a) / d theta_q =
 * e_a - pi_q (softmax score function),
 *
 *   grad J = sum_q w_q sum_k pi_qk r_qk (e_k - pi_q)       (block q of a vector of length sum_q K_q)
 *
 * (REINFORCE, Williams 1992; the paper's Eq. (2) for one-token responses).
 */
import { InvalidArgumentError, NonFiniteValueError, Rng } from "@duet/core"

/** One prompt of a bandit. */
export interface Prompt {
  /** Softmax logits theta_q, one per arm. */
  readonly logits: Float64Array
  /** Reward of each arm. */
  readonly rewards: Float64Array
  /** The policy `softmax(logits)`. */
  readonly policy: Float64Array
}

export interface Bandit {
  readonly prompts: ReadonlyArray<Prompt>
  /** Probability of drawing each prompt (sums to 1). */
  readonly weights: Float64Array
  /** Offset of prompt q's block in a gradient vector. */
  readonly offsets: Int32Array
  /** Length of a gradient vector: the total number of arms. */
  readonly dimension: number
}

/** Numerically stable softmax (subtracts the max logit). */
export const softmax = (logits: ArrayLike<number>): Float64Array => {
  let max = -Infinity
  for (let k = 0; k < logits.length; k++) max = Math.max(max, logits[k]!)
  const out = new Float64Array(logits.length)
  let total = 0
  for (let k = 0; k < logits.length; k++) {
    out[k] = Math.exp(logits[k]! - max)
    total += out[k]!
  }
  for (let k = 0; k < out.length; k++) out[k]! /= total
  return out
}

const makePrompt = (logits: ArrayLike<number>, rewards: ArrayLike<number>, field: string): Prompt => {
  if (logits.length < 2) {
    throw new InvalidArgumentError(`${field}logits`, `has ${logits.length} entries; a bandit needs at least 2 arms`)
  }
  if (rewards.length !== logits.length) {
    throw new InvalidArgumentError(
      `${field}rewards`,
      `has ${rewards.length} entries but logits has ${logits.length}; give one reward per arm`
    )
  }
  for (let k = 0; k < logits.length; k++) {
    if (!Number.isFinite(logits[k])) throw new NonFiniteValueError(`${field}logits`, k, logits[k]!)
    if (!Number.isFinite(rewards[k])) throw new NonFiniteValueError(`${field}rewards`, k, rewards[k]!)
  }
  return { logits: Float64Array.from(logits), rewards: Float64Array.from(rewards), policy: softmax(logits) }
}

const assemble = (prompts: ReadonlyArray<Prompt>, weights?: ArrayLike<number>): Bandit => {
  if (prompts.length === 0) throw new InvalidArgumentError("prompts", "is empty; a bandit needs at least one prompt")
  let w: Float64Array
  if (weights === undefined) {
    w = new Float64Array(prompts.length).fill(1 / prompts.length)
  } else {
    if (weights.length !== prompts.length) {
      throw new InvalidArgumentError("weights", `has ${weights.length} entries for ${prompts.length} prompts`)
    }
    let total = 0
    for (let q = 0; q < weights.length; q++) {
      const x = weights[q]!
      if (!Number.isFinite(x) || x < 0) throw new InvalidArgumentError(`weights[${q}]`, `is ${x}; weights must be finite and >= 0`)
      total += x
    }
    if (!(total > 0)) throw new InvalidArgumentError("weights", "sum to 0; at least one prompt needs positive weight")
    w = Float64Array.from(weights, (x) => x / total)
  }
  const offsets = new Int32Array(prompts.length)
  let dimension = 0
  for (let q = 0; q < prompts.length; q++) {
    offsets[q] = dimension
    dimension += prompts[q]!.logits.length
  }
  return { prompts, weights: w, offsets, dimension }
}

/** A one-prompt bandit. Fails (`InvalidArgumentError`, `NonFiniteValueError`) on < 2 arms, mismatched or non-finite input. */
export const make = (spec: { readonly logits: ArrayLike<number>; readonly rewards: ArrayLike<number> }): Bandit =>
  assemble([makePrompt(spec.logits, spec.rewards, "")])

/**
 * A bandit with several prompts, each `{ logits, rewards }`, drawn with probabilities proportional
 * to `weights` (uniform by default). Prompts may have different numbers of arms.
 */
export const fromPrompts = (
  specs: ReadonlyArray<{ readonly logits: ArrayLike<number>; readonly rewards: ArrayLike<number> }>,
  weights?: ArrayLike<number>
): Bandit => assemble(specs.map((s, q) => makePrompt(s.logits, s.rewards, `prompts[${q}].`)), weights)

export interface RandomOptions {
  /** Arms per prompt (>= 2). */
  readonly arms: number
  /** Number of prompts (default 1). */
  readonly prompts?: number
  /**
   * "binary" (default): 0/1 rewards with at least one correct and one wrong arm per prompt, so no
   * prompt has a zero gradient. "real": rewards uniform in [0, 1).
   */
  readonly rewards?: "binary" | "real"
  /** Logits are `logitScale * N(0, 1)` (default 1). */
  readonly logitScale?: number
}

/** A random bandit drawn from `rng` (same seed, same bandit). */
export const random = (rng: Rng, opts: RandomOptions): Bandit => {
  const arms = opts.arms
  const count = opts.prompts ?? 1
  const scale = opts.logitScale ?? 1
  if (!Number.isInteger(arms) || arms < 2) throw new InvalidArgumentError("arms", `is ${arms}; it must be an integer >= 2`)
  if (!Number.isInteger(count) || count < 1) throw new InvalidArgumentError("prompts", `is ${count}; it must be an integer >= 1`)
  if (!Number.isFinite(scale) || scale < 0) throw new InvalidArgumentError("logitScale", `is ${scale}; it must be finite and >= 0`)
  const kind = opts.rewards ?? "binary"
  if (kind !== "binary" && kind !== "real") throw new InvalidArgumentError("rewards", `is ${String(kind)}; expected "binary" or "real"`)
  const specs: Array<{ logits: Float64Array; rewards: Float64Array }> = []
  for (let q = 0; q < count; q++) {
    const logits = Float64Array.from({ length: arms }, () => scale * rng.normal())
    const rewards = new Float64Array(arms)
    if (kind === "real") {
      for (let k = 0; k < arms; k++) rewards[k] = rng.float()
    } else {
      // Fair coin per arm, redrawn until the prompt has both a correct and a wrong arm
      // (a uniformly random non-empty proper subset of the arms).
      let correct = 0
      while (correct === 0 || correct === arms) {
        correct = 0
        for (let k = 0; k < arms; k++) {
          rewards[k] = rng.bernoulli(0.5) ? 1 : 0
          correct += rewards[k]!
        }
      }
    }
    specs.push({ logits, rewards })
  }
  return fromPrompts(specs)
}

/** `grad J` (block q holds `w_q sum_k pi_qk r_qk (e_k - pi_q)`). */
export const trueGradient = (bandit: Bandit): Float64Array => {
  const out = new Float64Array(bandit.dimension)
  bandit.prompts.forEach((prompt, q) => {
    const { policy, rewards } = prompt
    const o = bandit.offsets[q]!
    let expected = 0
    for (let k = 0; k < policy.length; k++) expected += policy[k]! * rewards[k]!
    // sum_k pi_k r_k (e_k - pi) = pi .* r - (pi . r) pi
    for (let k = 0; k < policy.length; k++) out[o + k] = bandit.weights[q]! * policy[k]! * (rewards[k]! - expected)
  })
  return out
}

/** Expected reward of prompt q under its policy; the pass rate p when rewards are 0/1. */
export const expectedReward = (bandit: Bandit, q: number): number => {
  const prompt = bandit.prompts[q]
  if (prompt === undefined) throw new InvalidArgumentError("prompt", `is ${q}; the bandit has ${bandit.prompts.length} prompts`)
  let p = 0
  for (let k = 0; k < prompt.policy.length; k++) p += prompt.policy[k]! * prompt.rewards[k]!
  return p
}

/** True when every reward of every prompt is 0 or 1 (the RLVR setting of the paper). */
export const isBinary = (bandit: Bandit): boolean =>
  bandit.prompts.every((p) => p.rewards.every((r) => r === 0 || r === 1))

/** The distinct reward values of the bandit, ascending. */
export const rewardValues = (bandit: Bandit): Float64Array => {
  const set = new Set<number>()
  for (const p of bandit.prompts) for (const r of p.rewards) set.add(r)
  return Float64Array.from([...set].sort((a, b) => a - b))
}
