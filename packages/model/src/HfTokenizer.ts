/**
 * A Hugging Face tokenizer (`tokenizer.json` + `tokenizer_config.json`) behind duet's `Tokenizer`
 * interface, with the chat template. Encoding and decoding are `@huggingface/tokenizers` (the
 * tokenizers.js port of the Rust library: BPE, byte-level, normalizers, pre-tokenizers,
 * post-processors, added/special tokens); chat templates render with `@huggingface/jinja`.
 * Both are pure JS with no dependencies (~1.1 MB installed); see docs/model.md for the choice.
 *
 * - `encode(text)` adds no special tokens (the `Tokenizer` contract, and what TRL/verl do for a
 *   completion); `encode(text, { addSpecialTokens: true })` runs the post-processor as HF's
 *   `tokenizer(text)` does (e.g. Llama 3 prepends <|begin_of_text|>).
 * - `decode` keeps special tokens unless asked (`skipSpecialTokens`), as HF `decode`; the
 *   `Tokenizer` interface's `decode` drops them. An id with no token (a model vocabulary padded
 *   past the tokenizer's) decodes to nothing, as in the Rust library.
 * - bos / eos / pad: `generation_config.json` first (its eos may be a list: all are stop tokens),
 *   then `tokenizer_config.json`'s tokens, then config.json's ids.
 */
import { Template } from "@huggingface/jinja"
import { Tokenizer as HfTokenizerImpl } from "@huggingface/tokenizers"
import { InvalidArgumentError } from "@duet/core"
import type { Tokenizer, TokenizerSpec } from "./Tokenizer.js"

export interface ChatMessage {
  readonly role: string
  readonly content: string
}

/** The special ids a model directory declares. */
export interface SpecialIds {
  readonly bos?: number
  /** Every id that ends generation (generation_config's eos_token_id list). */
  readonly eos: ReadonlyArray<number>
  readonly pad?: number
}

/** The JSON files a tokenizer is made of, already parsed. */
export interface TokenizerFiles {
  readonly tokenizerJson: Record<string, unknown>
  readonly tokenizerConfig: Record<string, unknown>
  /** `chat_template.jinja`, when the directory has one (transformers >= 4.43 writes it). */
  readonly chatTemplate?: string
  /** config.json and generation_config.json, for the special ids. */
  readonly modelConfig?: Record<string, unknown>
  readonly generationConfig?: Record<string, unknown>
  /** Where the files came from (for `toSpec` and error messages). */
  readonly dir?: string
}

/** A special token as tokenizer_config.json writes it: a string, or an AddedToken `{ content }`. */
const tokenText = (x: unknown): string | undefined =>
  typeof x === "string" ? x : typeof x === "object" && x !== null && typeof (x as { content?: unknown }).content === "string" ? (x as { content: string }).content : undefined

const ids = (x: unknown): number[] => (typeof x === "number" ? [x] : Array.isArray(x) ? x.filter((v): v is number => typeof v === "number") : [])

export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number
  readonly pad: number
  readonly bos?: number
  /** The first stop id; `stopTokens` has all of them. */
  readonly eos: number
  readonly stopTokens: ReadonlyArray<number>
  private readonly impl: HfTokenizerImpl
  private readonly template: Template | undefined
  private readonly templateText: string | undefined

  constructor(readonly files: TokenizerFiles) {
    const where = files.dir ?? "<memory>"
    try {
      this.impl = new HfTokenizerImpl(files.tokenizerJson, files.tokenizerConfig)
    } catch (e) {
      throw new InvalidArgumentError(`${where}/tokenizer.json`, `cannot be loaded: ${(e as Error).message}`)
    }
    let max = -1
    for (const id of this.impl.get_vocab(true).values()) max = Math.max(max, id)
    this.vocabSize = max + 1
    const cfg = files.tokenizerConfig
    const byName = (field: string): number | undefined => {
      const t = tokenText(cfg[field])
      return t === undefined ? undefined : this.impl.token_to_id(t)
    }
    const gen = files.generationConfig ?? {}
    const model = files.modelConfig ?? {}
    const first = (...xs: unknown[]): number[] => {
      for (const x of xs) {
        const v = ids(x)
        if (v.length > 0) return v
      }
      return []
    }
    const eos = first(gen["eos_token_id"], byName("eos_token"), model["eos_token_id"])
    if (eos.length === 0) throw new InvalidArgumentError(`${where}/generation_config.json`, "eos_token_id: no end-of-sequence token (nor eos_token in tokenizer_config.json, nor eos_token_id in config.json)")
    this.stopTokens = eos
    this.eos = eos[0]!
    const bos = first(gen["bos_token_id"], byName("bos_token"), model["bos_token_id"])
    if (bos.length > 0) this.bos = bos[0]!
    this.pad = first(gen["pad_token_id"], byName("pad_token"), model["pad_token_id"])[0] ?? this.eos
    let text = files.chatTemplate ?? cfg["chat_template"]
    if (Array.isArray(text)) text = (text as Array<{ name?: string; template?: string }>).find((t) => t.name === "default")?.template
    this.templateText = typeof text === "string" ? text : undefined
    try {
      this.template = this.templateText === undefined ? undefined : new Template(this.templateText)
    } catch (e) {
      throw new InvalidArgumentError(`${where}/chat_template`, `does not parse: ${(e as Error).message}`)
    }
  }

  /** Token ids of `text`; special tokens added only with `addSpecialTokens` (HF's post-processor). */
  encode(text: string, options: { readonly addSpecialTokens?: boolean } = {}): Int32Array {
    return Int32Array.from(this.impl.encode(text, { add_special_tokens: options.addSpecialTokens ?? false }).ids)
  }

  /** Text of the ids: special tokens dropped by default (the `Tokenizer` contract); HF's `decode` keeps them. */
  decode(idList: ArrayLike<number>, options: { readonly skipSpecialTokens?: boolean } = {}): string {
    const arr: number[] = []
    for (let i = 0; i < idList.length; i++) {
      const id = idList[i]!
      if (!Number.isInteger(id) || id < 0) throw new InvalidArgumentError(`ids[${i}]`, `token ${id} is not a non-negative integer`)
      if (id < this.vocabSize) arr.push(id)
    }
    if (arr.length === 0) return "" // tokenizers.js rejects an empty list
    return this.impl.decode(arr, { skip_special_tokens: options.skipSpecialTokens ?? true, clean_up_tokenization_spaces: false })
  }

  /** True when the tokenizer has a chat template. */
  get hasChatTemplate(): boolean {
    return this.template !== undefined
  }

  /**
   * The chat template rendered as transformers' `apply_chat_template(messages, tokenize=False,
   * add_generation_prompt=...)`: the tokenizer config's special tokens are in scope.
   */
  applyChatTemplate(messages: ReadonlyArray<ChatMessage>, options: { readonly addGenerationPrompt?: boolean } = {}): string {
    if (this.template === undefined) throw new InvalidArgumentError(`${this.files.dir ?? "<memory>"}/tokenizer_config.json`, "chat_template: the tokenizer has no chat template")
    const cfg = this.files.tokenizerConfig
    const specials: Record<string, string> = {}
    for (const [k, v] of Object.entries(cfg)) {
      const t = k.endsWith("_token") ? tokenText(v) : undefined
      if (t !== undefined) specials[k] = t
    }
    return this.template.render({
      ...specials,
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      add_generation_prompt: options.addGenerationPrompt ?? false
    })
  }

  toSpec(): TokenizerSpec {
    if (this.files.dir === undefined) throw new InvalidArgumentError("tokenizer", "an in-memory HF tokenizer has no spec; load it from a directory")
    return { type: "hf", dir: this.files.dir }
  }
}
