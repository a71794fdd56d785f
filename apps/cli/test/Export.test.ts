import { describe, expect, it } from "vitest"
import { spawnSync } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

/** `duet export` as a user runs it; the logits check against transformers is packages/pipeline/test/HfExport.test.ts. */
const bin = fileURLToPath(new URL("../bin/duet.js", import.meta.url))
const checkpoint = fileURLToPath(new URL("../../../packages/pipeline/test/fixtures/hf-export/checkpoint", import.meta.url))
const duet = (args: string[]) => {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 120_000 })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

describe("duet export", () => {
  it("CHECKPOINT --to hf OUT_DIR writes a transformers directory; bad input exits 2 naming it", () => {
    const out = join(mkdtempSync(join(tmpdir(), "duet-export-cli-")), "hf")
    const r = duet(["export", checkpoint, "--to", "hf", out])
    expect(r.err).toBe("")
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/exported .* \(7,264 parameters\)/)
    expect(readdirSync(out).sort()).toEqual(["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"])
    expect(JSON.parse(readFileSync(join(out, "config.json"), "utf8"))).toMatchObject({ model_type: "gpt2", architectures: ["GPT2LMHeadModel"], eos_token_id: 3 })
    const again = duet(["export", checkpoint, "--to", "hf", out])
    expect(again.code).toBe(2)
    expect(again.err).toMatch(/is not empty/)
    const help = duet(["export", "--help"])
    expect(help.code).toBe(0)
    expect(help.out).toContain("--to")
  }, 120_000)
})
