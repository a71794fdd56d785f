import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Engine, tf } from "@duet/engine"
import { Checkpoint, Gpt, Safetensors } from "@duet/model"
import { HfExport } from "../src/index.js"

/**
 * `duet export --to hf` against transformers: fixtures/hf-export/logits.json holds the logits
 * transformers' GPT2LMHeadModel computed from this export of fixtures/hf-export/checkpoint
 * (tools/ecosystem/hf_export_logits.py), and the ids its AutoTokenizer gave for the texts.
 */
const fixtures = join(__dirname, "fixtures", "hf-export")
const hf = JSON.parse(readFileSync(join(fixtures, "logits.json"), "utf8")) as {
  texts: string[]
  ids: number[][]
  logits: number[][][]
}

describe("duet export --to hf", () => {
  it("writes a GPT2LMHeadModel directory whose transformers logits equal duet's (1e-4)", async () => {
    await Engine.init({ threads: 1 })
    const out = join(mkdtempSync(join(tmpdir(), "duet-export-")), "hf")
    const r = await Effect.runPromise(HfExport.toHf(join(fixtures, "checkpoint"), out))
    expect([...r.files].sort()).toEqual(["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"])
    const loaded = await Checkpoint.load(join(fixtures, "checkpoint"))
    const policy = Gpt.fromParams(loaded.config, loaded.params)
    expect(r.parameters).toBe(Gpt.parameterCount(loaded.config))
    // The exported tokenizer gave duet's ids: BOS, then one id per character.
    const alphabet = Array.from((loaded.tokenizer as { alphabet: string }).alphabet)
    hf.texts.forEach((text, i) => expect(hf.ids[i]).toEqual([1, ...Array.from(text).map((ch) => alphabet.indexOf(ch) + 3)]))
    let worst = 0
    for (const [i, ids] of hf.ids.entries()) {
      const logits = tf.tidy(() => policy.logits(tf.tensor2d([ids], [1, ids.length], "int32")).arraySync()[0]!)
      expect(logits.length).toBe(hf.logits[i]!.length)
      for (const [t, row] of logits.entries()) for (const [v, x] of row.entries()) worst = Math.max(worst, Math.abs(x - hf.logits[i]![t]![v]!))
    }
    expect(worst).toBeLessThan(1e-4) // 5.0e-6 measured (transformers 5.18, CPU)
    // Logits that differ by more than the tolerance: a wrong mapping (e.g. q and k swapped) could not pass.
    const spread = Math.max(...hf.logits.flat(2)) - Math.min(...hf.logits.flat(2))
    expect(spread).toBeGreaterThan(1)
    // The exported c_attn splits back into duet's c_q / c_k / c_v exactly.
    const st = Safetensors.decode(new Uint8Array(readFileSync(join(out, "model.safetensors"))), "model.safetensors")
    const C = loaded.config.nEmbd
    const cAttn = Safetensors.toArray(st.tensors.get("transformer.h.1.attn.c_attn.weight")!) as Float32Array
    const k = (await loaded.params.get("transformer.h.1.attn.c_k.weight")!.data()) as Float32Array
    expect(Array.from({ length: C }, (_, row) => Array.from(cAttn.subarray(row * 3 * C + C, row * 3 * C + 2 * C)))).toEqual(
      Array.from({ length: C }, (_, row) => Array.from(k.subarray(row * C, (row + 1) * C)))
    )
    expect(st.tensors.has("lm_head.weight")).toBe(false) // tied to wte, as transformers saves GPT-2
    policy.dispose?.()
  })

  it("a run directory exports its newest checkpoint; a non-empty OUT_DIR and a non-checkpoint are clear errors", async () => {
    const out = mkdtempSync(join(tmpdir(), "duet-export-"))
    const err = (p: string, o: string) => Effect.runPromise(Effect.flip(HfExport.toHf(p, o))).then((e) => e.message)
    await Effect.runPromise(HfExport.toHf(join(fixtures, "checkpoint"), join(out, "a")))
    expect(await err(join(fixtures, "checkpoint"), join(out, "a"))).toMatch(/a: is not empty; export into a new directory/)
    expect(await err(fixtures, join(out, "b"))).toMatch(/hf-export: neither a checkpoint \(no config\.json\) nor a run directory \(no checkpoints\/latest\)/)
    // A run directory and a pointer file resolve to the checkpoint they name.
    const run = mkdtempSync(join(tmpdir(), "duet-export-run-"))
    mkdirSync(join(run, "checkpoints"))
    cpSync(join(fixtures, "checkpoint"), join(run, "checkpoints", "step-000004"), { recursive: true })
    writeFileSync(join(run, "checkpoints", "latest"), "step-000004\n")
    writeFileSync(join(run, "checkpoints", "best"), "step-000004\n")
    expect(HfExport.resolveCheckpoint(run)).toBe(join(run, "checkpoints", "step-000004"))
    expect(HfExport.resolveCheckpoint(join(run, "checkpoints", "best"))).toBe(join(run, "checkpoints", "step-000004"))
    writeFileSync(join(run, "checkpoints", "best"), "nonsense")
    expect(() => HfExport.resolveCheckpoint(join(run, "checkpoints", "best"))).toThrow(/best: expected a checkpoint pointer "step-NNNNNN", found "nonsense"/)
  })
})
