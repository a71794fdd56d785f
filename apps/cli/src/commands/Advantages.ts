/**
 * `duet advantages`: rewards + groups as JSON on stdin -> advantages as JSON on stdout, for checking a
 * duet estimator against verl/TRL/OpenRLHF numbers from the shell.
 */
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { AdvantageTransform, DuetInputError, Scores, StepInfo } from "@duet/core"
import { EstimatorEntry, Registry, optionsUsedBy } from "@duet/estimators"
import type { EstimatorName } from "@duet/estimators"
import { InputError } from "../InputError.js"
import * as Stdin from "../Stdin.js"

export interface AdvantagesInput {
  readonly rewards: ReadonlyArray<number>
  readonly groups: ReadonlyArray<number>
  readonly lengths?: ReadonlyArray<number>
}

const fail = (message: string) => Effect.fail(new InputError({ message }))

const numberArray = (value: unknown, field: string, required: boolean): Effect.Effect<number[] | undefined, InputError> => {
  if (value === undefined && !required) return Effect.succeed(undefined)
  if (!Array.isArray(value)) return fail(`field "${field}" must be an array of numbers, got ${value === undefined ? "nothing" : typeof value}`)
  for (let i = 0; i < value.length; i++) {
    const x = value[i]
    if (typeof x !== "number" || !Number.isFinite(x)) {
      return fail(`${field}[${i}] must be a finite number, got ${JSON.stringify(x) ?? String(x)}`)
    }
  }
  return Effect.succeed(value as number[])
}

/** Parses and validates the stdin document; errors name the field. */
export const parseInput = (text: string): Effect.Effect<AdvantagesInput, InputError> =>
  Effect.gen(function* () {
    let doc: unknown
    try {
      doc = JSON.parse(text)
    } catch (e) {
      return yield* fail(`stdin is not valid JSON (${(e instanceof Error ? e.message : String(e)).replace(/\s+/g, " ")})`)
    }
    if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
      return yield* fail('stdin must be a JSON object like {"rewards": [1, 0], "groups": [0, 0]}')
    }
    const o = doc as Record<string, unknown>
    const rewards = (yield* numberArray(o.rewards, "rewards", true))!
    const groups = (yield* numberArray(o.groups, "groups", true))!
    const lengths = yield* numberArray(o.lengths, "lengths", false)
    if (groups.length !== rewards.length) {
      return yield* fail(`"groups" has ${groups.length} entries but "rewards" has ${rewards.length}; they must match`)
    }
    if (lengths !== undefined && lengths.length !== rewards.length) {
      return yield* fail(`"lengths" has ${lengths.length} entries but "rewards" has ${rewards.length}; they must match`)
    }
    if (lengths !== undefined) {
      const bad = lengths.findIndex((l) => !Number.isInteger(l) || l < 0)
      if (bad >= 0) return yield* fail(`lengths[${bad}] must be a non-negative integer, got ${lengths[bad]}`)
    }
    return lengths === undefined ? { rewards, groups } : { rewards, groups, lengths }
  })

/** `key=value` of `--option` (the value as JSON when it parses: numbers, booleans; else a string). */
const parseOption = (assignment: string): [string, unknown] => {
  const eq = assignment.indexOf("=")
  if (eq <= 0) throw new InputError({ message: `--option ${assignment}: expected name=value, e.g. --option scaleByStd=false` })
  const raw = assignment.slice(eq + 1)
  try {
    return [assignment.slice(0, eq), JSON.parse(raw)]
  } catch {
    return [assignment.slice(0, eq), raw]
  }
}

/**
 * Computes advantages; estimator input errors (singleton groups, ...) become InputErrors. `--eps` and
 * `--std` reach the estimators that read them (others ignore them); `options` (`--option name=value`)
 * are checked against the estimator's registry entry.
 */
export const compute = (
  input: AdvantagesInput,
  estimator: EstimatorName,
  opts: { eps?: number; std?: "unbiased" | "population" },
  options: ReadonlyArray<string> = []
): Effect.Effect<number[], InputError> =>
  Effect.try({
    try: () => {
      const entry = Registry.entry(estimator)
      const shared = Object.fromEntries(optionsUsedBy[entry.name].map((k) => [k, opts[k]]))
      const transform = entry.make(EstimatorEntry.parseOptions(entry, { ...shared, ...Object.fromEntries(options.map(parseOption)) }))
      const scores = Scores.make(input.rewards, input.groups)
      let lengths = input.lengths
      if (lengths === undefined && entry.needsLengths) {
        throw new InputError({
          message: `${entry.name} whitens over response tokens: give "lengths" (tokens per completion)`
        })
      }
      const out = AdvantageTransform.apply(transform, scores, StepInfo.at(0, lengths))
      return Array.from(out.values)
    },
    catch: (e) =>
      e instanceof InputError
        ? e
        : new InputError({ message: e instanceof DuetInputError || e instanceof Error ? e.message : String(e) })
  })

export const command = Command.make(
  "advantages",
  {
    estimator: Flag.Literals("estimator", Registry.names).pipe(
      Flag.withDescription(
        `advantage estimator (verl conventions by default): ${Registry.estimators.map((e) => `${e.name}: ${e.summary}`).join("; ")}`
      )
    ),
    eps: Flag.Finite("eps").pipe(
      Flag.withDescription("epsilon added to the group std (grpo, 2-grpo: default 1e-6 as verl; TRL uses 1e-4)"),
      Flag.optional
    ),
    std: Flag.Literals("std", ["unbiased", "population"] as const).pipe(
      Flag.withDescription("group std for grpo/2-grpo: unbiased (n-1, verl/TRL/OpenRLHF) or population (n, the paper's Prop. 4.1)"),
      Flag.optional
    ),
    option: Flag.String("option").pipe(
      Flag.withDescription(
        `an estimator option as name=value (repeatable): ${Registry.estimators
          .filter((e) => Object.keys(e.options).length > 0)
          .map((e) => `${e.name}: ${Object.keys(e.options).join(", ")}`)
          .join("; ")}`
      ),
      Flag.atLeast(0)
    )
  },
  (flags) =>
    Effect.gen(function* () {
      const text = yield* Stdin.readAll
      const input = yield* parseInput(text)
      const opts: { eps?: number; std?: "unbiased" | "population" } = {}
      if (Option.isSome(flags.eps)) opts.eps = flags.eps.value
      if (Option.isSome(flags.std)) opts.std = flags.std.value
      const advantages = yield* compute(input, flags.estimator, opts, flags.option)
      yield* Console.log(JSON.stringify({ advantages }))
    })
).pipe(
  Command.withDescription(
    'Reads {"rewards": number[], "groups": number[], "lengths"?: number[]} as JSON on stdin and prints {"advantages": number[]}.'
  ),
  Command.withExamples([
    { command: `echo '{"rewards":[1,0,0,0],"groups":[0,0,0,0]}' | duet advantages --estimator grpo`, description: "verl's GRPO: [1.499997, -0.499999, ...]" }
  ])
)
