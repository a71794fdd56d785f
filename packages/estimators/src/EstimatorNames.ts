/**
 * Estimators by name for untyped callers (CLI flags, scripts): thin views over `Registry`, the one
 * list of built-in estimators.
 */
import type { Transform as AdvantageTransform } from "@duet/core"
import type { StdKind } from "./GroupStd.js"
import * as Registry from "./Registry.js"

export const estimatorNames = Registry.names

export type EstimatorName = Registry.EstimatorName

export interface ByNameOptions {
  /** grpo, 2-grpo, grpo-passk: added to the group std (default 1e-6). reinforce-pp-baseline: inside the root (default 1e-8). */
  readonly eps?: number | undefined
  /** grpo, 2-grpo, grpo-passk: "unbiased" (default) or "population". */
  readonly std?: StdKind | undefined
}

/** Which of `ByNameOptions` each estimator reads (its registry options); the others it ignores. */
export const optionsUsedBy: { readonly [K in EstimatorName]: ReadonlyArray<keyof ByNameOptions> } = Object.fromEntries(
  Registry.estimators.map((e) => [e.name, (["eps", "std"] as const).filter((k) => k in e.options)])
) as unknown as { readonly [K in EstimatorName]: ReadonlyArray<keyof ByNameOptions> }

export const isEstimatorName = Registry.isName

/** Checks an untyped name (`InvalidArgumentError` on "estimator" listing the valid ones). */
export const parseEstimatorName = (name: unknown): EstimatorName => Registry.entry(name).name

/**
 * The estimator called `name`, with verl's defaults unless `opts` says otherwise. Options an
 * estimator does not read (see `optionsUsedBy`) are ignored.
 */
export const byName = (name: EstimatorName, opts: ByNameOptions = {}): AdvantageTransform<unknown> => {
  const entry = Registry.entry(name)
  const used = Object.fromEntries(optionsUsedBy[entry.name].map((k) => [k, opts[k]]))
  return entry.make(used)
}
