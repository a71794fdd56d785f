/**
 * What the loss registry knows about a built-in loss, declared once beside its constructor: its
 * name (a recipe's `rl.loss.kind`), a summary, its options (`@duet/core` `PluginOptions` specs) and
 * the constructor. A `policy` loss takes the options every policy loss shares (aggregation, KL term,
 * entropy bonus) from the trainer; a `pairs` loss (the DPO family) scores (chosen, rejected) pairs.
 */
import type { OptionSpecs, OptionsOf } from "@duet/core"
import type { DpoLoss } from "./Dpo.js"
import type { CommonOptions, PolicyLoss } from "./PolicyLoss.js"

interface Common<N extends string, S extends OptionSpecs> {
  readonly name: N
  /** One line for `--help` and the docs. */
  readonly summary: string
  readonly options: S
}

export interface PolicyLossEntry<N extends string = string, S extends OptionSpecs = OptionSpecs> extends Common<N, S> {
  readonly family: "policy"
  make(options: OptionsOf<S>, common: CommonOptions): PolicyLoss
}

export interface PairLossEntry<N extends string = string, S extends OptionSpecs = OptionSpecs> extends Common<N, S> {
  readonly family: "pairs"
  make(options: OptionsOf<S>): DpoLoss
}

export type LossEntry<N extends string = string, S extends OptionSpecs = OptionSpecs> = PolicyLossEntry<N, S> | PairLossEntry<N, S>

/** Declares a policy-loss entry, keeping its literal name and option types (for the recipe union's type). */
export const policy = <const N extends string, const S extends OptionSpecs>(entry: Omit<PolicyLossEntry<N, S>, "family">): PolicyLossEntry<N, S> => ({
  ...entry,
  family: "policy"
})

/** Declares a pair-loss entry (the DPO family). */
export const pairs = <const N extends string, const S extends OptionSpecs>(entry: Omit<PairLossEntry<N, S>, "family">): PairLossEntry<N, S> => ({
  ...entry,
  family: "pairs"
})
