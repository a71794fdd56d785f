/**
 * `Arithmetic`: multi-digit `a+b`, `a-b`, `a*b` with exact-match answers; the default task for
 * training a small char-level policy from scratch.
 *
 * Prompt `"47+85="`, demonstration `"132\n"` (the stop marker is "\n"). Each operand's digit count
 * is drawn uniformly from `digits` (1-digit operands are 0..9, d-digit ones 10^(d-1)..10^d - 1),
 * so difficulty spans easy single-digit sums to products of the longest operands. The OOD split
 * draws digit counts from `oodDigits` and keeps only problems with an operand longer than
 * `digits.max` — the length-generalisation test (longer numbers than any seen in training).
 * `reversed: true` writes answers least-significant digit first ("132" -> "231"), the order in
 * which carries are computed, which small transformers learn much faster (Lee et al. 2023,
 * "Teaching Arithmetic to Small Transformers").
 */
import { InvalidArgumentError, type Rng } from "@duet/core"
import * as Partition from "./Partition.js"
import type { Problem, SplitName } from "./Problem.js"
import * as ProblemSampler from "./ProblemSampler.js"
import * as Range from "./Range.js"
import { answerText, type LengthBounds, type SplitOptions, type Task } from "./Task.js"

export type Op = "+" | "-" | "*"

export interface Config {
  /** Operations to draw from, uniformly; repeat one to weight it (default ["+", "-", "*"]). */
  readonly ops?: ReadonlyArray<Op>
  /** Digits per operand for train and test (default {min: 1, max: 2}). */
  readonly digits?: Range.Range
  /** Digits per operand for OOD (default {min: digits.max + 1, max: digits.max + 1}); max must exceed digits.max. */
  readonly oodDigits?: Range.Range
  /** Allow negative differences; when false, "-" puts the larger operand first (default false). */
  readonly negative?: boolean
  /** Write answers least-significant digit first (default false). */
  readonly reversed?: boolean
  /** Share of the in-distribution problem space held out for "test" (default 0.2). */
  readonly testShare?: number
  /** Task name, also the partition salt (default "arithmetic"). */
  readonly name?: string
}

/** Every character an arithmetic prompt or demonstration can contain. */
export const alphabet = "\n*+-0123456789="

export const stop = "\n"

/** Largest operand length: products of two 7-digit numbers stay below 2^53. */
export const maxDigits = 7

/** Metadata of an arithmetic problem. */
export type Meta = {
  readonly op: Op
  readonly a: number
  readonly b: number
  /** Digit count of each operand. */
  readonly digits: readonly [number, number]
  /** Difficulty: digit count of the longer operand. */
  readonly difficulty: number
}

const apply = (op: Op, a: number, b: number): number => (op === "+" ? a + b : op === "-" ? a - b : a * b)

const numberWithDigits = (rng: Rng, d: number): number => (d === 1 ? rng.int(10) : 10 ** (d - 1) + rng.int(9 * 10 ** (d - 1)))

/** The answer as written in a completion (sign first, then digits, reversed when asked). */
export const render = (value: number, reversed: boolean): string => {
  const digits = String(Math.abs(value))
  const body = reversed ? [...digits].reverse().join("") : digits
  return value < 0 ? `-${body}` : body
}

export const metaOf = (problem: Problem): Meta => {
  const m = problem.meta as Partial<Meta> | undefined
  if (m === undefined || (m.op !== "+" && m.op !== "-" && m.op !== "*") || typeof m.a !== "number" || typeof m.b !== "number") {
    throw new InvalidArgumentError(`problem ${problem.id}`, "is not an arithmetic problem (meta needs op, a, b)")
  }
  return m as Meta
}

export const task = (config: Config = {}): Task & { readonly config: Required<Config> } => {
  const ops = config.ops ?? ["+", "-", "*"]
  if (ops.length === 0 || ops.some((o) => o !== "+" && o !== "-" && o !== "*")) {
    throw new InvalidArgumentError("ops", `is ${JSON.stringify(ops)}; it needs one or more of "+", "-", "*"`)
  }
  const digits = Range.check(config.digits ?? { min: 1, max: 2 }, "digits", 1, maxDigits - 1)
  const oodDigits = Range.check(config.oodDigits ?? { min: digits.max + 1, max: digits.max + 1 }, "oodDigits", 1, maxDigits)
  if (oodDigits.max <= digits.max) {
    throw new InvalidArgumentError("oodDigits", `has max ${oodDigits.max}; OOD operands must be longer than digits.max = ${digits.max}`)
  }
  const negative = config.negative ?? false
  const reversed = config.reversed ?? false
  const name = config.name ?? "arithmetic"
  const testShare = config.testShare ?? 0.2
  const partition = Partition.make(testShare, name)
  const full: Required<Config> = { ops, digits, oodDigits, negative, reversed, testShare, name }

  const draw = (rng: Rng, split: SplitName): ProblemSampler.Candidate | undefined => {
    const range = split === "ood" ? oodDigits : digits
    const op = ops[rng.int(ops.length)]!
    const da = Range.draw(rng, range)
    const db = Range.draw(rng, range)
    if (split === "ood" && Math.max(da, db) <= digits.max) return undefined
    let a = numberWithDigits(rng, da)
    let b = numberWithDigits(rng, db)
    let dd: readonly [number, number] = [da, db]
    if (op === "-" && !negative && a < b) {
      ;[a, b] = [b, a]
      dd = [db, da]
    }
    const value = apply(op, a, b)
    const meta: Meta = { op, a, b, digits: dd, difficulty: Math.max(da, db) }
    return { prompt: `${a}${op}${b}=`, answer: String(value), meta }
  }

  const demonstration = (problem: Problem): string => {
    const { op, a, b } = metaOf(problem)
    return render(apply(op, a, b), reversed) + stop
  }

  const verify = (completion: string, problem: Problem): boolean => {
    const { op, a, b } = metaOf(problem)
    return answerText(completion, stop) === render(apply(op, a, b), reversed)
  }

  /** A wrong answer one digit away from the right one (first digit never becomes 0). */
  const corrupt = (problem: Problem, rng: Rng): string => {
    const { op, a, b } = metaOf(problem)
    const value = apply(op, a, b)
    const digitsOf = [...String(Math.abs(value))]
    const i = rng.int(digitsOf.length)
    const lowest = i === 0 && digitsOf.length > 1 ? 1 : 0
    const old = Number(digitsOf[i])
    const choices: number[] = []
    for (let d = lowest; d <= 9; d++) if (d !== old) choices.push(d)
    digitsOf[i] = String(choices[rng.int(choices.length)]!)
    const wrong = Number(digitsOf.join("")) * (value < 0 ? -1 : 1)
    return render(wrong, reversed) + stop
  }

  const maxLength = (split: SplitName): LengthBounds => {
    const d = split === "ood" ? oodDigits.max : digits.max
    const answerLength = Math.max(
      ...ops.map((op) => (op === "+" ? d + 1 : op === "-" ? d + (negative ? 1 : 0) : 2 * d))
    )
    return { prompt: 2 * d + 2, completion: answerLength + 1 }
  }

  /** Operands with `d` digits: 10 for d = 1 (0..9), else 9 * 10^(d-1). */
  const operands = (range: Range.Range): number => {
    let n = 0
    for (let d = range.min; d <= range.max; d++) n += d === 1 ? 10 : 9 * 10 ** (d - 1)
    return n
  }
  // Ordered operand pairs per op (an upper bound: "-" keeps only a >= b). OOD keeps the pairs with
  // an operand longer than digits.max.
  const capacity = (split: SplitName): number => {
    if (split !== "ood") return new Set(ops).size * operands(digits) ** 2
    const shorter = oodDigits.min > digits.max ? 0 : operands({ min: oodDigits.min, max: digits.max })
    return new Set(ops).size * (operands(oodDigits) ** 2 - shorter ** 2)
  }

  return {
    name,
    alphabet,
    stop,
    config: full,
    split: (split: SplitName, options: SplitOptions) =>
      ProblemSampler.sample({ task: name, split, options, partition, draw }),
    demonstration,
    verify,
    corrupt,
    maxLength,
    capacity
  }
}
