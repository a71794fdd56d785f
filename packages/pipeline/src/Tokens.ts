/**
 * Text <-> token ids for prompts and completions: the tokenizer of a task and the ids the sampler
 * stops on.
 */
import { InvalidArgumentError } from "@duet/core"
import { Tokenizer } from "@duet/model"
import type { TokenizerLike } from "@duet/model"

export interface Codec {
  readonly tokenizer: TokenizerLike
  /** Token id of the task's stop marker: sampling stops on it and it ends every demonstration. */
  readonly stopToken: number
  /** Prompt text -> ids (BOS first). */
  prompt(text: string): Int32Array
  /** Completion text -> ids (no BOS). */
  completion(text: string): Int32Array
  /** Completion ids -> text (specials dropped). */
  decode(ids: ArrayLike<number>): string
}

/** A char-level codec over `alphabet`; `stop` must be one of its characters. */
export const charCodec = (alphabet: string, stop: string): Codec => {
  const tokenizer = Tokenizer.fromSpec({ type: "char", alphabet })
  const stopIds = tokenizer.encode(stop)
  if (stopIds.length !== 1) throw new InvalidArgumentError("stop", `must be one character of the alphabet, got ${JSON.stringify(stop)}`)
  return make(tokenizer, stopIds[0]!)
}

export const make = (tokenizer: TokenizerLike, stopToken: number): Codec => ({
  tokenizer,
  stopToken,
  prompt: (text) => {
    const ids = tokenizer.encode(text)
    const out = new Int32Array(ids.length + 1)
    out[0] = Tokenizer.BOS
    out.set(ids, 1)
    return out
  },
  completion: (text) => tokenizer.encode(text),
  decode: (ids) => tokenizer.decode(Int32Array.from(ids))
})
