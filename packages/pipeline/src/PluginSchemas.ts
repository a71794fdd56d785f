/**
 * Recipe schemas of the plugin kinds that have a registry or a user value. `rl.estimator`: derived from the estimator registry (`@duet/estimators`
 * `Registry`): one member `{ kind: name, ...options }` per built-in, each option decoded by its spec
 * (so a bad one fails at decode with its path, `rl.estimator.eps`), plus `{ kind: "custom", name }`,
 * which records a user's estimator value (a TypeScript recipe, `UserRecipe.ts`) by name.
 * `rl.reward`: absent = the task's 0/1 grade; `{ kind: "verifier", name }` a built-in verifier;
 * `{ kind: "custom", name }` records a user's reward.
 */
import { Schema } from "effect"
import { Registry } from "@duet/estimators"
import { Verifier } from "@duet/verifiers"
import type { EstimatorSpec as BuiltinSpec } from "@duet/estimators"
import type { OptionSpec, OptionSpecs } from "@duet/core"
import { Registry as LossRegistry } from "@duet/losses"
import type { LossSpec as BuiltinLossSpec } from "@duet/losses"


const option = (spec: OptionSpec): Schema.Top => {
  if (spec.type === "boolean") return Schema.Boolean
  if (spec.type === "literal") return Schema.Literals(spec.values as readonly [string, ...string[]])
  const atLeast = Schema.isGreaterThanOrEqualTo(spec.min)
  const bounded = spec.max === undefined ? Schema.Finite.check(atLeast) : Schema.Finite.check(atLeast, Schema.isLessThanOrEqualTo(spec.max))
  return spec.orFalse === true ? Schema.Union([bounded, Schema.Literal(false)]) : bounded
}

/** `{ kind: name, ...options }` of a registry entry (estimator or loss), each option decoded by its spec. */
const member = (entry: { readonly name: string; readonly options: OptionSpecs }) =>
  Schema.Struct({
    kind: Schema.Literal(entry.name),
    ...Object.fromEntries(Object.entries(entry.options).map(([key, spec]) => [key, spec.required === true ? option(spec) : Schema.optionalKey(option(spec))]))
  })

/** A user's plugin, recorded by its name; the value travels beside the recipe (`Train` `plugins`). */
export const Custom = Schema.Struct({ kind: Schema.Literal("custom"), name: Schema.String })

export type CustomSpec = typeof Custom.Type

export type EstimatorSpec = BuiltinSpec | CustomSpec

export const Estimator = Schema.Union([...Registry.estimators.map(member), Custom]) as unknown as Schema.Codec<
  BuiltinSpec | { readonly kind: "custom"; readonly name: string },
  unknown
>

/**
 * The training reward (absent: the task's 0/1 correctness grade): a `@duet/verifiers` verifier by
 * name (`math` by value, `gsm8k`, `exact`, `format`), its `reward` against the gold answer; or a
 * user's reward function, recorded by its name.
 */
export const Reward = Schema.Union([Schema.Struct({ kind: Schema.Literal("verifier"), name: Schema.Literals(Verifier.names) }), Custom])

/**
 * `rl.loss`: one member per built-in loss of `@duet/losses` `Registry` (its options included), plus
 * `{ kind: "custom", name }` for a TypeScript recipe's own `Objective`.
 */
export const Loss = Schema.Union([...LossRegistry.losses.map(member), Custom]) as unknown as Schema.Codec<BuiltinLossSpec | CustomSpec, unknown>

export type LossSpec = BuiltinLossSpec | CustomSpec
