/**
 * Estimators by name, for the CLI (`duet advantages --estimator NAME`) and recipe files: an explicit
 * closed list and one switch, not a registry filled by import side effects.
 */
import { InvalidArgumentError } from "@duet/core"
import type { Transform as AdvantageTransform } from "@duet/core"
import { drGrpo } from "./DrGrpo.js"
import { grpo } from "./Grpo.js"
import type { StdKind } from "./GroupStd.js"
import { reinforcePlusPlusBaseline } from "./ReinforcePlusPlusBaseline.js"
import { rloo } from "./Rloo.js"
import { twoGrpo } from "./TwoGrpo.js"

export const estimatorNames = ["grpo", "dr-grpo", "2-grpo", "rloo", "reinforce-pp-baseline"] as const

export type EstimatorName = (typeof estimatorNames)[number]

export interface ByNameOptions {
  /** grpo, 2-grpo: added to the group std (default 1e-6). reinforce-pp-baseline: inside the root (default 1e-8). */
  readonly eps?: number | undefined
  /** grpo, 2-grpo: "unbiased" (default) or "population". */
  readonly std?: StdKind | undefined
}

/** Which of `ByNameOptions` each estimator reads; the others it ignores (a CLI can warn on them). */
export const optionsUsedBy: { readonly [K in EstimatorName]: ReadonlyArray<keyof ByNameOptions> } = {
  grpo: ["eps", "std"],
  "dr-grpo": [],
  "2-grpo": ["eps", "std"],
  rloo: [],
  "reinforce-pp-baseline": ["eps"]
}

export const isEstimatorName = (name: unknown): name is EstimatorName =>
  typeof name === "string" && (estimatorNames as ReadonlyArray<string>).includes(name)

/** Checks an untyped name (`InvalidArgumentError` on "estimator" listing the valid ones). */
export const parseEstimatorName = (name: unknown): EstimatorName => {
  if (!isEstimatorName(name)) {
    throw new InvalidArgumentError("estimator", `is ${JSON.stringify(name)}; expected one of ${estimatorNames.join(", ")}`)
  }
  return name
}

/**
 * The estimator called `name`, with verl's defaults unless `opts` says otherwise. Options an
 * estimator does not read (see `optionsUsedBy`) are ignored.
 */
export const byName = (name: EstimatorName, opts: ByNameOptions = {}): AdvantageTransform<unknown> => {
  switch (parseEstimatorName(name)) {
    case "grpo":
      return grpo({ eps: opts.eps, std: opts.std })
    case "dr-grpo":
      return drGrpo()
    case "2-grpo":
      return twoGrpo({ eps: opts.eps, std: opts.std })
    case "rloo":
      return rloo()
    case "reinforce-pp-baseline":
      return reinforcePlusPlusBaseline({ eps: opts.eps })
  }
}
