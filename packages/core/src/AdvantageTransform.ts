/**
 * `AdvantageTransform`: the one interface every advantage estimator implements, in the spirit of
 * Optax's GradientTransformation (two pure functions; state explicit, never in closures).
 * Rewards and advantages share one type, `Scores`, so estimators are `chain`s of small blocks:
 * `grpo = chain(subtractGroupMean(), scaleByGroupStd({ eps: 1e-6 }))`.
 */
import type { Scores } from "./Scores.js"
import type { StepInfo } from "./StepInfo.js"

export interface AdvantageTransform<S = void> {
  /** Human-readable name, used in errors and reports. */
  readonly name: string
  /** Smallest group size this transform accepts (checked by `update`). */
  readonly minGroupSize: number
  /** Initial state. */
  init(): S
  /** Maps scores to new scores; returns the next state. Pure. */
  update(scores: Scores, state: S, info: StepInfo): readonly [Scores, S]
}

/** A transform whose state we do not care to name. */
// biome-ignore lint: any is the point here
export type AnyAdvantageTransform = AdvantageTransform<any>

type StatesOf<T extends ReadonlyArray<AnyAdvantageTransform>> = {
  readonly [K in keyof T]: T[K] extends AdvantageTransform<infer S> ? S : never
}

/** A transform without state. */
export const stateless = (
  name: string,
  minGroupSize: number,
  apply: (scores: Scores, info: StepInfo) => Scores
): AdvantageTransform<void> => ({
  name,
  minGroupSize,
  init: () => undefined,
  update: (scores, _state, info) => [apply(scores, info), undefined]
})

/**
 * Composes transforms left to right. The state is the tuple of the parts' states; the minimum
 * group size is the largest of the parts'.
 */
export const chain = <const T extends ReadonlyArray<AnyAdvantageTransform>>(
  ...transforms: T
): AdvantageTransform<StatesOf<T>> => ({
  name: transforms.map((t) => t.name).join(" > ") || "identity",
  minGroupSize: transforms.reduce((m, t) => Math.max(m, t.minGroupSize), 1),
  init: () => transforms.map((t) => t.init()) as unknown as StatesOf<T>,
  update: (scores, state, info) => {
    const next: unknown[] = []
    let s = scores
    for (let i = 0; i < transforms.length; i++) {
      const [out, st] = transforms[i]!.update(s, (state as ReadonlyArray<unknown>)[i], info)
      s = out
      next.push(st)
    }
    return [s, next as unknown as StatesOf<T>]
  }
})

/** Renames a transform (e.g. a chain that forms a named recipe) and optionally raises its minimum group size. */
export const named = <S>(
  name: string,
  transform: AdvantageTransform<S>,
  minGroupSize: number = transform.minGroupSize
): AdvantageTransform<S> => ({ ...transform, name, minGroupSize: Math.max(minGroupSize, transform.minGroupSize) })

/** Runs a transform once from its initial state: the common case for stateless estimators. */
export const apply = <S>(transform: AdvantageTransform<S>, scores: Scores, info: StepInfo = { step: 0 }): Scores =>
  transform.update(scores, transform.init(), info)[0]
