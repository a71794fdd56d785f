/**
 * Guards: the checks a user wants watching an RL run, each a warning (or, with `action: "stop"`,
 * the end of the run with a checkpoint) when the run goes where RL runs go wrong:
 * - `passDrop`: held-out Pass@n (test split, from `eval.every`) below the starting Pass@n by more
 *   than this margin — the policy forgets what it could already solve (a collapse, or a learning
 *   rate too high for the warm start);
 * - `minEntropy`: the rollouts' mean per-token entropy (nats; the Monte Carlo estimate
 *   `mean(-log p(sampled token))`) below this — the policy has collapsed onto one output;
 * - `zeroAdvantage`: the share of groups whose rewards are all equal (advantage 0, no gradient) at
 *   or above this for `patience` consecutive steps — nothing left to learn from at this group size.
 */
import type { Recipe } from "./Recipe.js"

export type GuardSpec = NonNullable<Recipe["guards"]>

export interface GuardState {
  /** Consecutive steps with the zero-advantage share at or above the threshold. */
  zeroStreak: number
  /** Guards that already warned (each warns once). */
  readonly warned: Set<string>
}

export const initial = (): GuardState => ({ zeroStreak: 0, warned: new Set() })

export interface Alarm {
  readonly guard: "passDrop" | "minEntropy" | "zeroAdvantage"
  readonly message: string
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`

/** Alarms raised by one RL step's rollout statistics. */
export const afterStep = (spec: GuardSpec, state: GuardState, step: number, stats: { entropy: number; zeroStdGroups: number }): Alarm[] => {
  const out: Alarm[] = []
  if (spec.minEntropy !== false && stats.entropy < spec.minEntropy) {
    out.push({
      guard: "minEntropy",
      message: `step ${step + 1}: rollout entropy ${stats.entropy.toFixed(4)} nats/token is below guards.minEntropy ${spec.minEntropy}: the policy is collapsing onto one output`
    })
  }
  if (spec.zeroAdvantage !== false) {
    state.zeroStreak = stats.zeroStdGroups >= spec.zeroAdvantage ? state.zeroStreak + 1 : 0
    if (state.zeroStreak >= spec.patience) {
      out.push({
        guard: "zeroAdvantage",
        message:
          `step ${step + 1}: ${pct(stats.zeroStdGroups)} of groups had equal rewards (no gradient) for ${state.zeroStreak} steps ` +
          `(guards.zeroAdvantage ${pct(spec.zeroAdvantage)}): a larger group size or harder problems would give signal`
      })
    }
  }
  return out
}

/** Alarms raised by a held-out evaluation during RL. */
export const afterEval = (spec: GuardSpec, step: number, startPassAtN: number | undefined, passAtN: number, n: number): Alarm[] => {
  if (spec.passDrop === false || startPassAtN === undefined) return []
  if (startPassAtN - passAtN <= spec.passDrop) return []
  return [
    {
      guard: "passDrop",
      message:
        `step ${step}: test Pass@${n} ${pct(passAtN)} fell ${pct(startPassAtN - passAtN)} below the start's ${pct(startPassAtN)} ` +
        `(guards.passDrop ${pct(spec.passDrop)}): the policy is forgetting; lower rl.lr or check the warm start`
    }
  ]
}

/** Keeps the alarms not yet reported (each guard warns once; with `action: "stop"` every alarm stops). */
export const fresh = (state: GuardState, alarms: ReadonlyArray<Alarm>): Alarm[] =>
  alarms.filter((a) => {
    if (state.warned.has(a.guard)) return false
    state.warned.add(a.guard)
    return true
  })
