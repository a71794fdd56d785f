import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { DataFile } from "../src/index.js"

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname
const load = (path: string, options: DataFile.Options = {}) =>
  Effect.runPromise(
    DataFile.load(path, options).pipe(
      Effect.map((right) => ({ _tag: "Right" as const, right })),
      Effect.catch((left) => Effect.succeed({ _tag: "Left" as const, left }))
    )
  )

describe("DataFile", () => {
  it("reads JSONL or Parquet by extension, in the detected shape", async () => {
    const gsm = await load(fixture("gsm8k.jsonl"))
    const hf = await load(fixture("hf-gsm8k.parquet"))
    const verl = await load(fixture("verl-gsm8k.parquet"))
    expect(gsm._tag).toBe("Right")
    expect(hf._tag).toBe("Right")
    expect(verl._tag).toBe("Right")
    if (verl._tag === "Right") expect(verl.right[0]!.answer).toBe("72")
  })

  it("names an unknown extension and a format given together with columns", async () => {
    const ext = await load(fixture("make-parquet.mjs"))
    expect(ext._tag === "Left" && ext.left.message).toMatch(/make-parquet\.mjs: has the extension "\.mjs"; expected \.jsonl .* or \.parquet/)
    const both = await load(fixture("math.jsonl"), { format: "math", columns: { prompt: "problem", answer: "answer" } })
    expect(both._tag === "Left" && both.left.message).toMatch(/give format or columns, not both/)
    const forced = await load(fixture("not-parquet.parquet"), { container: "jsonl" })
    expect(forced._tag).toBe("Left")
  })

  it("solutionLine: the solution on one line, ending in its final answer", () => {
    const p = (solution: unknown, answer = "7") => ({ id: "x", prompt: "q", answer, meta: { solution } })
    expect(DataFile.solutionLine(p("3+4=7.\nThe answer is $\\boxed{7}$."))).toBe("3+4=7. The answer is $\\boxed{7}$.")
    expect(DataFile.solutionLine(p("Ann has 3+4=<<3+4=7>>7 pens."))).toBe("Ann has 3+4=<<3+4=7>>7 pens. #### 7")
    expect(DataFile.solutionLine(p(" a \r\n\n b\n#### 7 "))).toBe("a b #### 7")
    expect(DataFile.solutionLine(p(undefined))).toBeUndefined()
    expect(DataFile.solutionLine(p("  "))).toBeUndefined()
  })
})
