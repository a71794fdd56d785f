import { describe, expect, it } from "vitest"
import { join } from "node:path"
import { Hf, HfTokenizer } from "@duet/model"
import { Tokens } from "../src/index.js"

const fixture = (name: string) => join(__dirname, "../../model/test/fixtures/hf", name)

describe("Tokens.hfCodec", () => {
  it("raw prompts: HF tokenizer(prompt) (BOS from the post-processor); stops on the marker's token, then the eos ids", () => {
    const tok = Hf.loadTokenizer(fixture("llama-gqa"))
    const codec = Tokens.hfCodec(tok, { stop: "\n" })
    expect(Array.from(codec.prompt("12+7="))).toEqual(Array.from(tok.encode("12+7=", { addSpecialTokens: true })))
    expect(codec.prompt("12+7=")[0]).toBe(tok.bos)
    const nl = tok.encode("\n")
    expect(nl).toHaveLength(1)
    expect(codec.stopTokens).toEqual([nl[0], ...tok.stopTokens])
    expect(codec.stopToken).toBe(nl[0])
    expect(Array.from(codec.completion("19\n"))).toEqual(Array.from(tok.encode("19\n")))
    expect(codec.decode(codec.completion("19\n"))).toBe("19\n")
  })
  it("chat prompts: the template with the generation prompt (and a system message); stops on eos only; a demonstration's marker becomes eos", () => {
    const tok = Hf.loadTokenizer(fixture("qwen2-bias"))
    const codec = Tokens.hfCodec(tok, { stop: "\n", chat: true, system: "Be brief." })
    const text = tok.applyChatTemplate(
      [
        { role: "system", content: "Be brief." },
        { role: "user", content: "What is 2 + 3?" }
      ],
      { addGenerationPrompt: true }
    )
    expect(Array.from(codec.prompt("What is 2 + 3?"))).toEqual(Array.from(tok.encode(text)))
    expect(codec.stopTokens).toEqual(tok.stopTokens)
    const c = codec.completion("5\n")
    expect(Array.from(c)).toEqual([...tok.encode("5"), tok.eos])
    expect(codec.decode(c)).toBe("5")
  })
  it("chat without a chat template is an error naming the field", () => {
    const files = Hf.loadTokenizer(fixture("llama-gqa")).files
    const { chat_template: _, ...config } = files.tokenizerConfig
    const bare = new HfTokenizer({ tokenizerJson: files.tokenizerJson, tokenizerConfig: config, dir: "bare" })
    expect(bare.hasChatTemplate).toBe(false)
    expect(() => Tokens.hfCodec(bare, { stop: "\n", chat: true })).toThrow(/model\.chat: bare has no chat template/)
  })
})
