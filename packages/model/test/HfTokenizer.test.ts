/**
 * HF tokenizers against the Rust `tokenizers` library and transformers' `apply_chat_template`, on
 * the fixture tokenizers (tools/hf-fixtures/make_fixtures.py): a Qwen-style ChatML one and a
 * Llama-3-style one whose post-processor adds BOS. The corpus has unicode (combining, CJK, Cyrillic,
 * emoji with ZWJ), whitespace runs, tabs and CRLF, code, and special tokens inside text.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import * as Hf from "../src/Hf.js"
import * as Tokenizer from "../src/Tokenizer.js"

const FIXTURES = join(import.meta.dirname, "fixtures", "hf")

interface Reference {
  dir: string
  corpus: Array<{ text: string; ids: number[]; idsNoSpecial: number[]; decoded: string; decodedSkip: string }>
  chat: Array<{ messages: Array<{ role: string; content: string }>; addGenerationPrompt: boolean; text: string }>
}
const refs: Record<string, Reference> = JSON.parse(readFileSync(join(FIXTURES, "tokenizers.json"), "utf8"))

describe.each(Object.keys(refs))("%s tokenizer matches HF", (kind) => {
  const ref = refs[kind]!
  const tok = Hf.loadTokenizer(join(FIXTURES, ref.dir))

  it.each(ref.corpus.map((c, i) => [i, c] as const))("corpus[%i]: ids with and without special tokens", (_, c) => {
    expect(Array.from(tok.encode(c.text, { addSpecialTokens: true }))).toEqual(c.ids)
    expect(Array.from(tok.encode(c.text))).toEqual(c.idsNoSpecial)
  })

  it.each(ref.corpus.map((c, i) => [i, c] as const))("corpus[%i]: decode, keeping or skipping special tokens", (_, c) => {
    expect(tok.decode(c.ids, { skipSpecialTokens: false })).toBe(c.decoded)
    expect(tok.decode(c.ids)).toBe(c.decodedSkip)
  })

  it("chat template renders as transformers' apply_chat_template", () => {
    for (const c of ref.chat) expect(tok.applyChatTemplate(c.messages, { addGenerationPrompt: c.addGenerationPrompt })).toBe(c.text)
  })

  it("special ids from generation_config.json; spec round trip", () => {
    const gen = JSON.parse(readFileSync(join(FIXTURES, ref.dir, "generation_config.json"), "utf8"))
    expect(tok.eos).toBe(gen.eos_token_id)
    expect(tok.pad).toBe(gen.pad_token_id)
    expect(tok.stopTokens).toEqual([gen.eos_token_id])
    const again = Tokenizer.fromSpec(tok.toSpec())
    expect(Array.from(again.encode(ref.corpus[1]!.text))).toEqual(ref.corpus[1]!.idsNoSpecial)
  })

  it("an id past the tokenizer's vocabulary (padded model vocab) decodes to nothing; a negative one is an error", () => {
    expect(tok.decode([ref.corpus[0]!.idsNoSpecial[0]!, tok.vocabSize + 5])).toBe(tok.decode([ref.corpus[0]!.idsNoSpecial[0]!]))
    expect(() => tok.decode([-1])).toThrow(/ids\[0\]/)
  })
})
