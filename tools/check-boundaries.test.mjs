// node --test: the boundary checker must fail on each kind of violation it claims to catch.
import { test } from "node:test"
import assert from "node:assert/strict"
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { spawnSync } from "node:child_process"

const checker = new URL("./check-boundaries.mjs", import.meta.url).pathname

const tree = (pkgs) => {
  const root = mkdtempSync(join(tmpdir(), "duet-boundaries-"))
  for (const [dir, { name, layer, deps = [], src }] of Object.entries(pkgs)) {
    mkdirSync(join(root, dir, "src"), { recursive: true })
    writeFileSync(
      join(root, dir, "package.json"),
      JSON.stringify({ name, dependencies: Object.fromEntries(deps.map((d) => [d, "*"])), nx: { tags: [`layer:${layer}`] } })
    )
    writeFileSync(join(root, dir, "src", "index.ts"), src)
  }
  return root
}
const run = (root) => spawnSync(process.execPath, [checker, root], { encoding: "utf8" })

test("a clean tree passes", () => {
  const r = run(tree({
    "packages/core": { name: "@duet/core", layer: "core", src: "export const x = 1\n" },
    "packages/est": { name: "@duet/est", layer: "pure", deps: ["@duet/core"], src: 'import { x } from "@duet/core"\nexport const y = x\n' }
  }))
  assert.equal(r.status, 0, r.stderr)
})

test("an upward import fails and names the file", () => {
  const r = run(tree({
    "packages/core": { name: "@duet/core", layer: "core", deps: ["@duet/est"], src: 'import { y } from "@duet/est"\nexport const x = y\n' },
    "packages/est": { name: "@duet/est", layer: "pure", src: "export const y = 1\n" }
  }))
  assert.equal(r.status, 1)
  assert.match(r.stderr, /packages\/core\/src\/index\.ts: "@duet\/core" \(layer core\) may not import "@duet\/est"/)
})

test("effect or tfjs in a pure package fails", () => {
  const r = run(tree({
    "packages/est": { name: "@duet/est", layer: "pure", src: 'import { Effect } from "effect"\nimport * as tf from "@tensorflow/tfjs-core"\n' }
  }))
  assert.equal(r.status, 1)
  assert.match(r.stderr, /may not import "effect"/)
  assert.match(r.stderr, /may not import "@tensorflow\/tfjs-core"/)
})

test("an undeclared sibling import and a cycle fail", () => {
  const r = run(tree({
    "packages/a": { name: "@duet/a", layer: "pure", deps: ["@duet/b"], src: 'export * from "@duet/b"\n' },
    "packages/b": { name: "@duet/b", layer: "pure", src: 'export * from "@duet/a"\n' }
  }))
  assert.equal(r.status, 1)
  assert.match(r.stderr, /does not declare it/)
  assert.match(r.stderr, /dependency cycle/)
})

test("a missing layer tag fails", () => {
  const root = tree({ "packages/a": { name: "@duet/a", layer: "nonsense", src: "" } })
  const r = run(root)
  assert.equal(r.status, 1)
  assert.match(r.stderr, /needs an nx tag/)
})
