/**
 * The built-in losses: ONE list. Recipes (`rl.loss.kind` and its options), the CLI and the docs
 * derive from it; adding a loss is its module exporting an `entry` (see `LossEntry.ts`) plus one
 * line here.
 */
import { InvalidArgumentError } from "@duet/core"
import type { OptionsOf, OptionSpecs } from "@duet/core"
import * as Dpo from "./Dpo.js"
import * as Gspo from "./Gspo.js"
import type { LossEntry } from "./LossEntry.js"
import * as PpoClip from "./PpoClip.js"

export const losses = [PpoClip.entry, Gspo.entry, Dpo.entry] as const

type Entries = (typeof losses)[number]

export type LossName = Entries["name"]

/** What a recipe writes for a built-in loss: `{ kind: name, ...its options }`. */
export type LossSpec = Entries extends infer E ? (E extends LossEntry<infer N, infer S> ? { readonly kind: N } & OptionsOf<S> : never) : never

export const names = losses.map((e) => e.name) as ReadonlyArray<LossName> as readonly [LossName, ...LossName[]]

/** The entry called `name` (`InvalidArgumentError` on "loss" listing the valid ones). */
export const entry = (name: unknown): LossEntry<LossName, OptionSpecs> => {
  const found = losses.find((e) => e.name === name)
  if (found === undefined) throw new InvalidArgumentError("loss", `is ${JSON.stringify(name)}; expected one of ${names.join(", ")}`)
  return found as unknown as LossEntry<LossName, OptionSpecs>
}
