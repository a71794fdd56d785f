/**
 * Tokenizers: the `Tokenizer` interface the sampler and pipeline use, and two small ones fit for
 * the built-in tasks; HF `tokenizer.json` tokenizers implement it in HfTokenizer.ts.
 *
 * Special tokens come first in both: `pad = 0`, `bos = 1`, `eos = 2`.
 * - `CharTokenizer`: one id per character of a fixed alphabet (ids 3.. in alphabet order). A
 *   character outside the alphabet is an error naming it and its position (no silent UNK).
 * - `ByteTokenizer`: the UTF-8 bytes, byte b has id b + 3 (vocabSize 259); any string encodes.
 * `encode` adds no special tokens (prepend `bos` yourself); `decode` drops special tokens.
 */
import { InvalidArgumentError } from "@duet/core"
import { loadTokenizer } from "./Hf.js"

/** What a tokenizer is, as JSON (stored in a checkpoint's config.json); "hf" names an HF directory. */
export type TokenizerSpec =
  | { readonly type: "char"; readonly alphabet: string }
  | { readonly type: "byte" }
  | { readonly type: "hf"; readonly dir: string }

export interface Tokenizer {
  readonly vocabSize: number
  readonly pad: number
  /** Start-of-sequence id, when the tokenizer has one (both here do); prompts start with it. */
  readonly bos?: number
  readonly eos: number
  encode(text: string): Int32Array
  /** Text of the ids, special tokens dropped; an id outside the vocabulary is an error. */
  decode(ids: ArrayLike<number>): string
  toSpec(): TokenizerSpec
}

export const PAD = 0
export const BOS = 1
export const EOS = 2
const SPECIALS = 3

export class CharTokenizer implements Tokenizer {
  readonly pad = PAD
  readonly bos = BOS
  readonly eos = EOS
  readonly vocabSize: number
  private readonly ids: Map<string, number>
  private readonly chars: string[]

  private constructor(readonly alphabet: string) {
    this.chars = Array.from(alphabet) // code points, so an emoji is one character
    this.ids = new Map(this.chars.map((ch, i) => [ch, i + SPECIALS]))
    this.vocabSize = this.chars.length + SPECIALS
  }

  /** A tokenizer over the distinct characters of `alphabet`, in order; duplicates are an error. */
  static fromAlphabet(alphabet: string): CharTokenizer {
    const chars = Array.from(alphabet)
    if (chars.length === 0) throw new InvalidArgumentError("alphabet", "is empty")
    const seen = new Set<string>()
    for (const [i, ch] of chars.entries()) {
      if (seen.has(ch)) throw new InvalidArgumentError("alphabet", `character ${JSON.stringify(ch)} repeats at index ${i}`)
      seen.add(ch)
    }
    return new CharTokenizer(alphabet)
  }

  encode(text: string): Int32Array {
    const chars = Array.from(text)
    const out = new Int32Array(chars.length)
    for (const [i, ch] of chars.entries()) {
      const id = this.ids.get(ch)
      if (id === undefined) throw new InvalidArgumentError("text", `character ${JSON.stringify(ch)} at index ${i} is not in the alphabet ${JSON.stringify(this.alphabet)}`)
      out[i] = id
    }
    return out
  }

  decode(ids: ArrayLike<number>): string {
    let s = ""
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new InvalidArgumentError(`ids[${i}]`, `token ${id} outside [0, ${this.vocabSize})`)
      if (id >= SPECIALS) s += this.chars[id - SPECIALS]
    }
    return s
  }

  toSpec(): TokenizerSpec {
    return { type: "char", alphabet: this.alphabet }
  }
}

export class ByteTokenizer implements Tokenizer {
  readonly pad = PAD
  readonly bos = BOS
  readonly eos = EOS
  readonly vocabSize = 256 + SPECIALS

  encode(text: string): Int32Array {
    return Int32Array.from(new TextEncoder().encode(text), (b) => b + SPECIALS)
  }

  /** Invalid UTF-8 (e.g. a sampled half character) decodes to U+FFFD rather than failing. */
  decode(ids: ArrayLike<number>): string {
    const bytes: number[] = []
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new InvalidArgumentError(`ids[${i}]`, `token ${id} outside [0, ${this.vocabSize})`)
      if (id >= SPECIALS) bytes.push(id - SPECIALS)
    }
    return new TextDecoder().decode(Uint8Array.from(bytes))
  }

  toSpec(): TokenizerSpec {
    return { type: "byte" }
  }
}

/** The tokenizer a spec describes (from a checkpoint's config.json). */
export const fromSpec = (spec: TokenizerSpec): Tokenizer => {
  if (spec.type === "char") return CharTokenizer.fromAlphabet(spec.alphabet)
  if (spec.type === "byte") return new ByteTokenizer()
  if (spec.type === "hf") return loadTokenizer(spec.dir)
  throw new InvalidArgumentError("tokenizer.type", `unknown tokenizer ${JSON.stringify((spec as { type: unknown }).type)}`)
}
