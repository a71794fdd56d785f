/**
 * Alphabets: the character sets tasks declare so a char-level tokenizer can be built from them.
 * An alphabet is a string of distinct characters sorted by code point, so two tasks with the same
 * characters have the same alphabet string and the same token ids.
 */
import { InvalidArgumentError } from "@duet/core"

/** The alphabet made of every character in `texts` (sorted by code point, no repeats). */
export const of = (...texts: ReadonlyArray<string>): string => {
  const set = new Set<string>()
  for (const t of texts) for (const c of t) set.add(c)
  return [...set].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!).join("")
}

/** One alphabet covering several (e.g. to train one tokenizer on a mix of tasks). */
export const union = (...alphabets: ReadonlyArray<string>): string => of(...alphabets)

/** The first character of `text` that is not in `alphabet`, or undefined when all are. */
export const firstOutside = (text: string, alphabet: string): string | undefined => {
  for (const c of text) if (!alphabet.includes(c)) return c
  return undefined
}

/** Throws `InvalidArgumentError` naming `field` when `text` has a character outside `alphabet`. */
export const check = (text: string, alphabet: string, field: string): void => {
  const c = firstOutside(text, alphabet)
  if (c !== undefined) {
    throw new InvalidArgumentError(field, `contains ${JSON.stringify(c)}, which is not in the alphabet ${JSON.stringify(alphabet)}`)
  }
}
