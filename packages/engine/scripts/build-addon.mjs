#!/usr/bin/env node
// Builds the optional OpenBLAS addon (native/duet_blas.cc -> build/duet_blas.node).
//
// Runs as @duet/engine's npm `install` script and always exits 0: without a C++ compiler or
// OpenBLAS the engine runs its pure-JS matmul path and reports it (Engine.init().matmul). The
// compile uses Node's own headers (<prefix>/include/node next to process.execPath, or npm's
// `nodedir`), so nothing is downloaded. Environment:
//   DUET_BLAS_BUILD=0   skip the build
//   CXX                 compiler (default: c++, then g++, then clang++)
//   OPENBLAS_DIR        prefix of a non-system OpenBLAS (uses its include/ and lib/)
//   DUET_BLAS_MARCH     -march for duet's own fused loops (default "native": the addon is built
//                       on the machine that runs it; set e.g. "x86-64-v2" for a portable build)
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const outDir = path.join(root, "build")
const target = path.join(outDir, "duet_blas.node")
const statusFile = path.join(outDir, "addon-status.json")
const quiet = process.argv.includes("--quiet")

const finish = (built, reason) => {
  mkdirSync(outDir, { recursive: true })
  writeFileSync(statusFile, JSON.stringify({ built, reason, node: process.version }, null, 2) + "\n")
  if (built) {
    if (!quiet) console.log(`@duet/engine: OpenBLAS addon built (${reason})`)
  } else {
    if (existsSync(target)) rmSync(target)
    console.log(`@duet/engine: OpenBLAS addon skipped: ${reason}. The engine will use its pure-JS matmul path` +
      ` (install libopenblas-dev and a C++ compiler, then run \`npm run build:addon -w @duet/engine\`).`)
  }
  process.exit(0)
}

try {
  if (process.env.DUET_BLAS_BUILD === "0") finish(false, "DUET_BLAS_BUILD=0")

  const works = (cmd) => spawnSync(cmd, ["--version"], { stdio: "ignore" }).status === 0
  const cxx = [process.env.CXX, "c++", "g++", "clang++"].find((c) => c && works(c))
  if (!cxx) finish(false, "no C++ compiler found (tried $CXX, c++, g++, clang++)")

  const headerDirs = [
    path.resolve(path.dirname(process.execPath), "..", "include", "node"),
    process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, "include", "node")
  ].filter(Boolean)
  const nodeInclude = headerDirs.find((d) => existsSync(path.join(d, "node_api.h")))
  if (!nodeInclude) finish(false, `Node headers not found (looked in ${headerDirs.join(", ")})`)

  const require = createRequire(import.meta.url)
  const napiInclude = path.dirname(require.resolve("node-addon-api/package.json"))

  const blasDir = process.env.OPENBLAS_DIR
  const blasFlags = blasDir ? [`-L${path.join(blasDir, "lib")}`, `-Wl,-rpath,${path.join(blasDir, "lib")}`] : []
  const platformFlags = process.platform === "darwin" ? ["-undefined", "dynamic_lookup"] : []

  mkdirSync(outDir, { recursive: true })
  const tmp = path.join(outDir, `duet_blas.${process.pid}.tmp.node`)
  const march = process.env.DUET_BLAS_MARCH ?? "native"
  const args = [
    "-O3", "-std=c++17", "-fPIC", "-shared", "-fvisibility=hidden", "-fno-trapping-math", "-fno-math-errno", "-fopenmp-simd",
    "-DNAPI_VERSION=8", "-DNAPI_CPP_EXCEPTIONS", "-DNODE_ADDON_API_DISABLE_DEPRECATED",
    `-I${nodeInclude}`, `-I${napiInclude}`,
    path.join(root, "native", "duet_blas.cc"),
    "-o", tmp, ...blasFlags, "-lopenblas", ...platformFlags
  ]
  let cc = spawnSync(cxx, [`-march=${march}`, ...args], { encoding: "utf8" })
  if (cc.status !== 0 && !/lopenblas|cannot find -l/i.test(cc.stderr ?? "")) {
    cc = spawnSync(cxx, args, { encoding: "utf8" }) // a compiler without that -march
  }
  if (cc.status !== 0) {
    rmSync(tmp, { force: true })
    const err = `${cc.stderr ?? ""}${cc.error ? String(cc.error) : ""}`
    const missingBlas = /lopenblas|cannot find -l|openblas/i.test(err)
    finish(false, missingBlas ? "OpenBLAS not found (no libopenblas to link)" : `compile failed: ${err.trim().split("\n").slice(-3).join(" | ")}`)
  }
  // Load it in a fresh process: a library that links but does not load (missing runtime .so)
  // must not be left in place.
  try {
    const config = execFileSync(process.execPath, ["-e", `process.stdout.write(require(${JSON.stringify(tmp)}).config())`], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"]
    })
    renameSync(tmp, target)
    finish(true, config.trim())
  } catch (e) {
    rmSync(tmp, { force: true })
    const stderr = String(e.stderr ?? e.message).trim().split("\n")
    finish(false, `built addon does not load: ${stderr.find((l) => /error/i.test(l)) ?? stderr[0]}`)
  }
} catch (e) {
  finish(false, `unexpected error: ${e instanceof Error ? e.message : String(e)}`)
}
