/**
 * Every ```ts block of README.md and docs/*.md runs as written (with jiti, from a file inside the
 * repository so `@duet/*` resolve as for a user's file), unless the line before it is
 * `<!-- not run: REASON -->` (a signature summary, a file to add to a package). A block that throws
 * or exits non-zero fails here, naming its file and line.
 */
import { describe, expect, it } from "vitest"
import { spawnSync } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const jiti = join(root, "node_modules", "jiti", "lib", "jiti-cli.mjs")

interface Block {
  readonly file: string
  readonly line: number
  readonly code: string
  readonly skip?: string
}

const blocks = (file: string): Block[] => {
  const text = readFileSync(join(root, file), "utf8")
  const out: Block[] = []
  for (const m of text.matchAll(/```ts\n([\s\S]*?)```/g)) {
    const before = text.slice(0, m.index)
    const line = before.split("\n").length
    const previous = before.trimEnd().split("\n").at(-1) ?? ""
    const skip = /<!-- not run: (.*) -->/.exec(previous)?.[1]
    out.push({ file, line, code: m[1]!, ...(skip === undefined ? {} : { skip }) })
  }
  return out
}

const all = ["README.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)].flatMap(blocks)

describe("code blocks in the docs", () => {
  it("finds blocks to run", () => {
    expect(all.filter((b) => b.skip === undefined).length).toBeGreaterThanOrEqual(6)
  })
  for (const block of all) {
    const name = `${block.file}:${block.line}`
    it.skipIf(block.skip !== undefined)(`${name} runs`, () => {
      const dir = mkdtempSync(join(root, "node_modules", ".cache-duet-docs-"))
      try {
        const path = join(dir, "block.ts")
        writeFileSync(path, block.code)
        const r = spawnSync(process.execPath, [jiti, path], { encoding: "utf8", cwd: dir, timeout: 180_000 })
        expect(r.status, `${name} exited ${r.status}:\n${r.stderr.slice(-2000)}`).toBe(0)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }, 200_000)
  }
})
