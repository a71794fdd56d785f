/**
 * The built-in advantage estimators: ONE list, in the order `duet theory` and `--help` show them.
 * Recipes (`rl.estimator.kind` and its options), `duet advantages`, `duet theory` and the docs all
 * derive from it. Adding an estimator is one new module exporting its constructor and its `entry`
 * (see `EstimatorEntry.ts`) plus one line here. An explicit list, not a registry filled by import
 * side effects.
 */
import { InvalidArgumentError } from "@duet/core"
import type { AnyAdvantageTransform } from "@duet/core"
import type { EstimatorEntry, OptionsOf, OptionSpecs } from "./EstimatorEntry.js"
import * as DrGrpo from "./DrGrpo.js"
import * as Grpo from "./Grpo.js"
import * as GrpoPassK from "./GrpoPassK.js"
import * as Opo from "./Opo.js"
import * as ReinforcePlusPlusBaseline from "./ReinforcePlusPlusBaseline.js"
import * as Rloo from "./Rloo.js"
import * as TwoGrpo from "./TwoGrpo.js"

export const estimators = [Grpo.entry, DrGrpo.entry, TwoGrpo.entry, Rloo.entry, ReinforcePlusPlusBaseline.entry, GrpoPassK.entry, Opo.entry] as const

type Entries = (typeof estimators)[number]

export type EstimatorName = Entries["name"]

/** What a recipe writes for a built-in estimator: `{ kind: name, ...its options }`. */
export type EstimatorSpec = Entries extends infer E
  ? E extends EstimatorEntry<infer N, infer S>
    ? { readonly kind: N } & OptionsOf<S>
    : never
  : never

export const names = estimators.map((e) => e.name) as ReadonlyArray<EstimatorName> as readonly [EstimatorName, ...EstimatorName[]]

export const isName = (name: unknown): name is EstimatorName => typeof name === "string" && (names as ReadonlyArray<string>).includes(name)

/** The entry called `name` (`InvalidArgumentError` on "estimator" listing the valid ones). */
export const entry = (name: unknown): EstimatorEntry<EstimatorName, OptionSpecs> => {
  const found = estimators.find((e) => e.name === name)
  if (found === undefined) throw new InvalidArgumentError("estimator", `is ${JSON.stringify(name)}; expected one of ${names.join(", ")}`)
  return found as EstimatorEntry<EstimatorName, OptionSpecs>
}

/** Builds the estimator a recipe spec names, with its options (defaults for the absent ones). */
export const make = (spec: EstimatorSpec): AnyAdvantageTransform => {
  const { kind, ...options } = spec
  return entry(kind).make(options)
}
