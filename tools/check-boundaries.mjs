#!/usr/bin/env node
// Module-boundary check (runs first in `npm test`, so CI fails on a violation).
// Each workspace project carries an nx tag `layer:<name>`; dependencies must point one way:
//   core <- pure <- tensor <- io <- pipeline <- app
// A project may import @duet packages of its own layer or any layer below (no cycles), must declare
// them in package.json, and some layers may not import effect or tfjs at all.
import { readFileSync, readdirSync, statSync, existsSync } from "node:fs"
import { join, relative } from "node:path"

const root = process.argv[2] ?? new URL("..", import.meta.url).pathname
const order = ["core", "pure", "tensor", "io", "pipeline", "app"]
const forbidden = {
  core: [/^effect(\/|$)/, /^@effect\//, /^@tensorflow\//],
  pure: [/^effect(\/|$)/, /^@effect\//, /^@tensorflow\//],
  tensor: [/^effect(\/|$)/, /^@effect\//]
}

const projects = new Map()
for (const base of ["packages", "apps"]) {
  const dir = join(root, base)
  if (!existsSync(dir)) continue
  for (const name of readdirSync(dir)) {
    const pj = join(dir, name, "package.json")
    if (!existsSync(pj)) continue
    const pkg = JSON.parse(readFileSync(pj, "utf8"))
    const tag = (pkg.nx?.tags ?? []).find((t) => t.startsWith("layer:"))?.slice(6)
    projects.set(pkg.name, { dir: join(dir, name), pkg, layer: tag })
  }
}

const errors = []
const walk = (d) =>
  readdirSync(d).flatMap((f) => {
    const p = join(d, f)
    return statSync(p).isDirectory() ? walk(p) : /\.(ts|mts|js|mjs)$/.test(f) ? [p] : []
  })
const importRe = /(?:^|[^.\w])(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|^\s*import\s*["']([^"']+)["']/gm

const edges = new Map()
for (const [name, p] of projects) {
  if (!p.layer || !order.includes(p.layer)) {
    errors.push(`${name}: package.json needs an nx tag "layer:<${order.join("|")}>"`)
    continue
  }
  const declared = new Set(Object.keys({ ...p.pkg.dependencies, ...p.pkg.peerDependencies, ...p.pkg.optionalDependencies }))
  edges.set(name, new Set())
  const src = join(p.dir, "src")
  if (!existsSync(src)) continue
  for (const file of walk(src)) {
    const text = readFileSync(file, "utf8")
    for (const m of text.matchAll(importRe)) {
      const spec = m[1] ?? m[2] ?? m[3]
      const where = relative(root, file)
      for (const re of forbidden[p.layer] ?? []) {
        if (re.test(spec)) errors.push(`${where}: layer "${p.layer}" may not import "${spec}"`)
      }
      if (!spec.startsWith("@duet/")) continue
      const target = spec.split("/").slice(0, 2).join("/")
      if (target === name) { errors.push(`${where}: imports its own package "${spec}"; use a relative import`); continue }
      const t = projects.get(target)
      if (!t) { errors.push(`${where}: imports unknown package "${target}"`); continue }
      if (order.indexOf(t.layer) > order.indexOf(p.layer)) {
        errors.push(`${where}: "${name}" (layer ${p.layer}) may not import "${target}" (layer ${t.layer}); dependencies point one way: ${order.join(" <- ")}`)
      }
      if (!declared.has(target)) errors.push(`${where}: imports "${target}" but ${relative(root, p.dir)}/package.json does not declare it`)
      edges.get(name).add(target)
    }
  }
}

// No cycles between projects (same-layer imports are allowed, cycles are not).
const state = new Map()
const visit = (n, path) => {
  if (state.get(n) === 1) { errors.push(`dependency cycle: ${[...path, n].join(" -> ")}`); return }
  if (state.get(n) === 2) return
  state.set(n, 1)
  for (const m of edges.get(n) ?? []) visit(m, [...path, n])
  state.set(n, 2)
}
for (const n of edges.keys()) visit(n, [])

if (errors.length > 0) {
  console.error(`module boundaries: ${errors.length} violation(s)\n` + errors.map((e) => `  - ${e}`).join("\n"))
  process.exit(1)
}
console.log(`module boundaries: ${projects.size} projects, layers ${order.join(" <- ")}: ok`)
