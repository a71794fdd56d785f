/**
 * `WordProblems`: templated multi-step word problems with integer answers, a miniature of GSM8K
 * that a small char-level model can read: a starting amount, then 1..k events, then a question.
 *
 * Prompt `"ann has 5 pens. she gets 3. she loses 2. how many now?"`, demonstration with worked
 * steps `"5+3=8 8-2=6 #### 6\n"` (or just `"6\n"` with `demo: "answer"`). The gold is the plain
 * integer, so a generic math verifier grades it too; the task's own `verify` reads the number
 * after the last "####" (or the whole answer text when there is none) and compares exactly.
 * Difficulty is the number of events (`steps`); OOD asks for more events than training saw.
 */
import { InvalidArgumentError, type Rng } from "@duet/core"
import * as Alphabet from "./Alphabet.js"
import * as Partition from "./Partition.js"
import type { Problem, SplitName } from "./Problem.js"
import * as ProblemSampler from "./ProblemSampler.js"
import * as Range from "./Range.js"
import { answerText, type LengthBounds, type SplitOptions, type Task } from "./Task.js"

export interface Config {
  /** Events per problem for train and test (default {min: 1, max: 2}). */
  readonly steps?: Range.Range
  /** Events per problem for OOD (default {min: steps.max + 1, max: steps.max + 1}); min must exceed steps.max. */
  readonly oodSteps?: Range.Range
  /** Range of the starting amount and of each event's number (default {min: 1, max: 9}). */
  readonly values?: Range.Range
  /** "steps": worked arithmetic then "#### N" (default); "answer": only N. */
  readonly demo?: "steps" | "answer"
  readonly testShare?: number
  readonly name?: string
}

type Kind = "add" | "sub" | "mul"

interface Event {
  readonly kind: Kind
  readonly n: number
}

export type Meta = {
  readonly start: number
  readonly events: ReadonlyArray<Event>
  readonly steps: number
  readonly difficulty: number
}

const people: ReadonlyArray<readonly [string, string]> = [
  ["ann", "she"],
  ["bob", "he"],
  ["eve", "she"],
  ["tom", "he"]
]
const items = ["pens", "eggs", "cards", "coins"] as const
const verbs: Record<Kind, ReadonlyArray<string>> = { add: ["gets", "finds", "buys"], sub: ["loses", "gives away", "sells"], mul: ["has"] }

export const stop = "\n"

/** Every character a prompt or demonstration can contain. */
export const alphabet = Alphabet.of(
  "0123456789 .?+-*=#\n",
  "how many now",
  ...people.flat(),
  ...items,
  ...Object.values(verbs).flat(),
  "times as many"
)

const apply = (x: number, e: Event): number => (e.kind === "add" ? x + e.n : e.kind === "sub" ? x - e.n : x * e.n)
const symbol: Record<Kind, string> = { add: "+", sub: "-", mul: "*" }

export const metaOf = (problem: Problem): Meta => {
  const m = problem.meta as Partial<Meta> | undefined
  if (m === undefined || typeof m.start !== "number" || !Array.isArray(m.events)) {
    throw new InvalidArgumentError(`problem ${problem.id}`, "is not a word problem (meta needs start, events)")
  }
  return m as Meta
}

/** The gold value: the start folded through the events. */
export const value = (meta: Meta): number => meta.events.reduce(apply, meta.start)

/** The worked solution: one "a op n=b" per event. */
export const workedSteps = (meta: Meta): string => {
  const parts: string[] = []
  let x = meta.start
  for (const e of meta.events) {
    const y = apply(x, e)
    parts.push(`${x}${symbol[e.kind]}${e.n}=${y}`)
    x = y
  }
  return parts.join(" ")
}

export const task = (config: Config = {}): Task => {
  const steps = Range.check(config.steps ?? { min: 1, max: 2 }, "steps", 1, 6)
  const oodSteps = Range.check(config.oodSteps ?? { min: steps.max + 1, max: steps.max + 1 }, "oodSteps", 1, 8)
  if (oodSteps.min <= steps.max) throw new InvalidArgumentError("oodSteps", `has min ${oodSteps.min}; OOD needs more events than steps.max = ${steps.max}`)
  const values = Range.check(config.values ?? { min: 1, max: 9 }, "values", 1, 99)
  const demo = config.demo ?? "steps"
  const name = config.name ?? "word-problems"
  const partition = Partition.make(config.testShare ?? 0.2, name)

  const draw = (rng: Rng, split: SplitName): ProblemSampler.Candidate | undefined => {
    const k = Range.draw(rng, split === "ood" ? oodSteps : steps)
    const [person, pronoun] = people[rng.int(people.length)]!
    const item = items[rng.int(items.length)]!
    const start = Range.draw(rng, values)
    const events: Event[] = []
    const sentences: string[] = []
    let x = start
    for (let i = 0; i < k; i++) {
      // Never below zero; "times as many" only by 2 or 3 to keep numbers short.
      const kinds: Kind[] = x > values.min ? ["add", "sub", "mul"] : ["add", "mul"]
      const kind = kinds[rng.int(kinds.length)]!
      const n = kind === "mul" ? 2 + rng.int(2) : kind === "sub" ? values.min + rng.int(Math.min(x, values.max) - values.min + 1) : Range.draw(rng, values)
      const e = { kind, n }
      events.push(e)
      x = apply(x, e)
      const verb = verbs[kind][rng.int(verbs[kind].length)]!
      sentences.push(kind === "mul" ? `${pronoun} now has ${n} times as many.` : `${pronoun} ${verb} ${n}.`)
    }
    const meta: Meta = { start, events, steps: k, difficulty: k }
    return { prompt: `${person} has ${start} ${item}. ${sentences.join(" ")} how many now?`, answer: String(x), meta }
  }

  const demonstration = (problem: Problem): string => {
    const m = metaOf(problem)
    return (demo === "steps" ? `${workedSteps(m)} #### ${value(m)}` : String(value(m))) + stop
  }

  const finalAnswer = (completion: string): string => {
    const text = answerText(completion, stop)
    const at = text.lastIndexOf("####")
    return (at < 0 ? text : text.slice(at + 4)).trim()
  }

  const verify = (completion: string, problem: Problem): boolean => finalAnswer(completion) === String(value(metaOf(problem)))

  const corrupt = (problem: Problem, rng: Rng): string => {
    const m = metaOf(problem)
    const right = value(m)
    const wrong = right + (rng.bernoulli(0.5) || right === 0 ? 1 + rng.int(3) : -1 - rng.int(Math.min(3, right)))
    // Same worked steps with the wrong total: the kind of slip a policy makes.
    return (demo === "steps" ? `${workedSteps(m)} #### ${wrong}` : String(wrong)) + stop
  }

  const maxLength = (split: SplitName): LengthBounds => {
    const k = (split === "ood" ? oodSteps : steps).max
    const v = String(values.max).length
    // Longest value: values.max multiplied by 3 at every event, plus additions (bounded loosely by (v+1)*... digits).
    const big = String(values.max * 4 ** k).length
    const sentence = Math.max(`she gives away ${"9".repeat(v)}.`.length, "she now has 3 times as many.".length)
    return {
      prompt: `ann has ${"9".repeat(v)} cards. `.length + k * (sentence + 1) + "how many now?".length,
      completion: demo === "steps" ? k * (big * 2 + v + 3) + 5 + big + 1 : big + 1
    }
  }

  return {
    name,
    alphabet,
    stop,
    split: (split: SplitName, options: SplitOptions) => ProblemSampler.sample({ task: name, split, options, partition, draw }),
    demonstration,
    verify,
    corrupt,
    maxLength
  }
}
