/**
 * Typed errors for invalid inputs. Plain classes with a `_tag` (no `effect` in pure packages);
 * Effect code can fail with them directly and match on `_tag`.
 */

/** Base of every input error duet raises from pure code. */
export abstract class DuetInputError extends Error {
  abstract readonly _tag: string
}

/** A batch, or a group inside it, has no rows. */
export class EmptyGroupError extends DuetInputError {
  readonly _tag = "EmptyGroupError" as const
  constructor(readonly detail: string) {
    super(detail)
    this.name = "EmptyGroupError"
  }
}

/** A group is smaller (or of another size) than the estimator needs. */
export class GroupSizeError extends DuetInputError {
  readonly _tag = "GroupSizeError" as const
  constructor(
    readonly estimator: string,
    readonly group: number,
    readonly size: number,
    readonly required: string
  ) {
    super(`${estimator}: group ${group} has ${size} rollout${size === 1 ? "" : "s"}, needs ${required}`)
    this.name = "GroupSizeError"
  }
}

/** A reward (or other per-row value) is NaN or infinite. */
export class NonFiniteValueError extends DuetInputError {
  readonly _tag = "NonFiniteValueError" as const
  constructor(
    readonly field: string,
    readonly index: number,
    readonly value: number
  ) {
    super(`${field}[${index}] is ${value}; every value must be a finite number`)
    this.name = "NonFiniteValueError"
  }
}

/** Parallel arrays disagree in length, or a parameter is out of its domain. */
export class InvalidArgumentError extends DuetInputError {
  readonly _tag = "InvalidArgumentError" as const
  constructor(
    readonly field: string,
    readonly detail: string
  ) {
    super(`${field}: ${detail}`)
    this.name = "InvalidArgumentError"
  }
}

/**
 * An Effect Schema decode error as one line naming each bad field by its path:
 * `Expected number\n  at ["rl"]["lr"]` -> `rl.lr: Expected number` (issues joined by "; ").
 */
export const formatSchemaIssues = (error: unknown): string => {
  const text = error instanceof Error ? error.message : String(error)
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "")
  const out: string[] = []
  for (let i = 0; i < lines.length; i++) {
    const at = lines[i + 1]?.match(/^at (.*)$/)
    if (at) {
      out.push(`${[...at[1]!.matchAll(/\[("?)(.*?)\1\]/g)].map((m) => m[2]).join(".")}: ${lines[i]}`)
      i++
    } else if (!/^at /.test(lines[i]!)) out.push(lines[i]!)
  }
  return out.join("; ")
}
