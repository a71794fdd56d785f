/**
 * Text <-> token ids for prompts and completions: the tokenizer of a task and the ids the sampler
 * stops on. Two codecs: a char-level one over a task's alphabet (the GPT), and a Hugging Face
 * tokenizer's (`hfCodec`: BPE, special tokens, the chat template, eos ids from generation_config.json).
 */
import { InvalidArgumentError } from "@duet/core"
import { Tokenizer } from "@duet/model"
import type { HfTokenizer, TokenizerLike } from "@duet/model"

export interface Codec {
  readonly tokenizer: TokenizerLike
  /** Token id of the task's stop marker: sampling stops on it and it ends every demonstration. */
  readonly stopToken: number
  /** Every id sampling stops on (`stopToken` first; an HF model's eos ids too). */
  readonly stopTokens: ReadonlyArray<number>
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
  stopTokens: [stopToken],
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

export interface HfCodecOptions {
  /** The task's stop marker (e.g. "\n"); see `hfCodec`. */
  readonly stop: string
  /** Render each prompt with the tokenizer's chat template as one user message, with the generation prompt. */
  readonly chat?: boolean
  /** A system message before the user message (chat only). */
  readonly system?: string
}

/**
 * A Hugging Face tokenizer's codec.
 * - `prompt(text)`: raw, `tokenizer(text)` as HF (the post-processor adds BOS where the tokenizer
 *   does, e.g. Llama 3; Qwen adds none); with `chat`, the chat template rendered with
 *   `add_generation_prompt` and tokenized without adding special tokens (the template holds them).
 * - `completion(text)`: the text's ids, no special tokens (TRL and verl tokenize the completion
 *   apart from the prompt). With `chat`, a trailing `stop` marker of a demonstration becomes the
 *   model's eos (a chat model ends its turn with eos, not with the task's marker).
 * - Stops: raw prompts stop on the marker's token (when it is one token) and on every eos id of
 *   generation_config.json; chat prompts on the eos ids only (the answer may span lines).
 * - `decode(ids)`: text with special tokens dropped.
 */
export const hfCodec = (tokenizer: HfTokenizer, options: HfCodecOptions): Codec => {
  const chat = options.chat ?? false
  if (chat && !tokenizer.hasChatTemplate) {
    throw new InvalidArgumentError("model.chat", `${tokenizer.files.dir ?? "the tokenizer"} has no chat template (tokenizer_config.json chat_template or chat_template.jinja)`)
  }
  const marker = tokenizer.encode(options.stop)
  const eos = [...tokenizer.stopTokens]
  const stopTokens = !chat && marker.length === 1 ? [marker[0]!, ...eos.filter((id) => id !== marker[0])] : eos
  const system = options.system
  return {
    tokenizer,
    stopToken: stopTokens[0]!,
    stopTokens,
    prompt: (text) =>
      chat
        ? tokenizer.encode(
            tokenizer.applyChatTemplate([...(system === undefined ? [] : [{ role: "system", content: system }]), { role: "user", content: text }], { addGenerationPrompt: true })
          )
        : tokenizer.encode(text, { addSpecialTokens: true }),
    completion: (text) => {
      if (!chat || options.stop === "" || !text.endsWith(options.stop)) return tokenizer.encode(text)
      const ids = tokenizer.encode(text.slice(0, text.length - options.stop.length))
      const out = new Int32Array(ids.length + 1)
      out.set(ids)
      out[ids.length] = tokenizer.eos
      return out
    },
    decode: (ids) => tokenizer.decode(Int32Array.from(ids))
  }
}
