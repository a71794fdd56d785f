import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { InvalidArgumentError } from "@duet/core"
import { ByteTokenizer, CharTokenizer, fromSpec } from "../src/Tokenizer.js"

fc.configureGlobal({ seed: 42, numRuns: 200 })

describe("CharTokenizer", () => {
  const tok = CharTokenizer.fromAlphabet("0123456789+-=")
  it("puts pad, bos, eos first and the alphabet after, in order", () => {
    expect([tok.pad, tok.bos, tok.eos]).toEqual([0, 1, 2])
    expect(tok.vocabSize).toBe(16)
    expect(Array.from(tok.encode("12+3="))).toEqual([4, 5, 13, 6, 15])
  })
  it("decode drops special tokens", () => {
    expect(tok.decode([1, 4, 5, 2, 0, 0])).toBe("12")
  })
  it("round-trips any string over its alphabet", () => {
    fc.assert(fc.property(fc.array(fc.constantFrom(...Array.from("0123456789+-="))).map((a) => a.join("")), (s) => {
      expect(tok.decode(tok.encode(s))).toBe(s)
    }))
  })
  it("rejects characters outside the alphabet, naming character and index", () => {
    expect(() => tok.encode("1+x")).toThrow(InvalidArgumentError)
    expect(() => tok.encode("1+x")).toThrow(/"x" at index 2/)
    expect(() => tok.decode([16])).toThrow(/ids\[0\]/)
    expect(() => CharTokenizer.fromAlphabet("abca")).toThrow(/repeats at index 3/)
    expect(() => CharTokenizer.fromAlphabet("")).toThrow(/alphabet/)
  })
  it("survives its spec", () => {
    const again = fromSpec(JSON.parse(JSON.stringify(tok.toSpec())))
    expect(Array.from(again.encode("7-1"))).toEqual(Array.from(tok.encode("7-1")))
  })
})

describe("ByteTokenizer", () => {
  const tok = new ByteTokenizer()
  it("maps byte b to id b + 3 (259 ids)", () => {
    expect(tok.vocabSize).toBe(259)
    expect(Array.from(tok.encode("A\u00e9"))).toEqual([65 + 3, 0xc3 + 3, 0xa9 + 3])
  })
  it("round-trips any string (UTF-8)", () => {
    fc.assert(fc.property(fc.string({ unit: "grapheme" }), (s) => {
      expect(tok.decode(tok.encode(s))).toBe(s)
    }))
  })
  it("decodes a cut multi-byte character to U+FFFD", () => {
    expect(tok.decode([0xc3 + 3])).toBe("\ufffd")
    expect(fromSpec({ type: "byte" }).vocabSize).toBe(259)
  })
})
