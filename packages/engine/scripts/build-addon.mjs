#!/usr/bin/env node
// Builds the optional native addons from native/duet_blas.cc:
//   build/duet_blas.node    GEMM from OpenBLAS (needs libopenblas)
//   build/duet_native.node  duet's own GEMM (native/duet_gemm.h; needs only the C++ compiler)
//
// Runs as @duet/engine's npm `install` script and always exits 0: without them the engine runs
// its prebuilt wasm SIMD kernels and reports which path it took (Engine.init().matmul). The
// compile uses Node's own headers (<prefix>/include/node next to process.execPath, or npm's
// `nodedir`), so nothing is downloaded. Environment:
//   DUET_BLAS_BUILD=0   skip the build
//   CXX                 compiler (default: c++, then g++, then clang++)
//   OPENBLAS_DIR        prefix of a non-system OpenBLAS (uses its include/ and lib/)
//   DUET_BLAS_MARCH     -march for duet's own GEMM and fused loops (default "native": the addon is built
//                       on the machine that runs it; set e.g. "x86-64-v2" for a portable build)
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const outDir = path.join(root, "build")
const statusFile = path.join(outDir, "addon-status.json")
const quiet = process.argv.includes("--quiet")

/** Compiles native/duet_blas.cc into build/<name>.node and loads it in a fresh process. */
const buildOne = ({ name, label, defines, libs, cxx, nodeInclude, napiInclude }) => {
  const target = path.join(outDir, `${name}.node`)
  const tmp = path.join(outDir, `${name}.${process.pid}.tmp.node`)
  const platformFlags = process.platform === "darwin" ? ["-undefined", "dynamic_lookup"] : []
  const march = process.env.DUET_BLAS_MARCH ?? "native"
  const args = [
    "-O3", "-std=c++17", "-fPIC", "-shared", "-fvisibility=hidden", "-fno-trapping-math", "-fno-math-errno", "-fopenmp-simd",
    "-pthread", "-DNAPI_VERSION=8", "-DNAPI_CPP_EXCEPTIONS", "-DNODE_ADDON_API_DISABLE_DEPRECATED", ...defines,
    `-I${nodeInclude}`, `-I${napiInclude}`,
    path.join(root, "native", "duet_blas.cc"),
    "-o", tmp, ...libs, ...platformFlags
  ]
  let cc = spawnSync(cxx, [`-march=${march}`, ...args], { encoding: "utf8" })
  if (cc.status !== 0 && !/lopenblas|cannot find -l/i.test(cc.stderr ?? "")) {
    cc = spawnSync(cxx, args, { encoding: "utf8" }) // a compiler without that -march
  }
  const fail = (reason) => {
    rmSync(tmp, { force: true })
    if (existsSync(target)) rmSync(target)
    console.log(`@duet/engine: ${label} addon skipped: ${reason}`)
    return { built: false, reason }
  }
  if (cc.status !== 0) {
    const err = `${cc.stderr ?? ""}${cc.error ? String(cc.error) : ""}`
    const missingBlas = /lopenblas|cannot find -l|openblas/i.test(err)
    return fail(missingBlas ? "OpenBLAS not found (no libopenblas to link)" : `compile failed: ${err.trim().split("\n").slice(-3).join(" | ")}`)
  }
  // Load it in a fresh process: a library that links but does not load (missing runtime .so)
  // must not be left in place.
  try {
    const config = execFileSync(process.execPath, ["-e", `process.stdout.write(require(${JSON.stringify(tmp)}).config())`], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"]
    })
    renameSync(tmp, target)
    if (!quiet) console.log(`@duet/engine: ${label} addon built (${config.trim()})`)
    return { built: true, reason: config.trim() }
  } catch (e) {
    const stderr = String(e.stderr ?? e.message).trim().split("\n")
    return fail(`built addon does not load: ${stderr.find((l) => /error/i.test(l)) ?? stderr[0]}`)
  }
}

const finish = (status) => {
  mkdirSync(outDir, { recursive: true })
  writeFileSync(statusFile, JSON.stringify({ ...status, node: process.version }, null, 2) + "\n")
  if (!status.openblas.built && !status.native.built) {
    console.log("@duet/engine: no native addon; the engine will use its prebuilt wasm SIMD kernels" +
      " (install a C++ compiler, and libopenblas-dev for OpenBLAS, then run `npm run build:addon -w @duet/engine`).")
  }
  process.exit(0)
}
const skipped = (reason) => ({ built: false, reason })

try {
  if (process.env.DUET_BLAS_BUILD === "0") finish({ openblas: skipped("DUET_BLAS_BUILD=0"), native: skipped("DUET_BLAS_BUILD=0") })

  const works = (cmd) => spawnSync(cmd, ["--version"], { stdio: "ignore" }).status === 0
  const cxx = [process.env.CXX, "c++", "g++", "clang++"].find((c) => c && works(c))
  if (!cxx) {
    const none = skipped("no C++ compiler found (tried $CXX, c++, g++, clang++)")
    finish({ openblas: none, native: none })
  }

  const headerDirs = [
    path.resolve(path.dirname(process.execPath), "..", "include", "node"),
    process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, "include", "node")
  ].filter(Boolean)
  const nodeInclude = headerDirs.find((d) => existsSync(path.join(d, "node_api.h")))
  if (!nodeInclude) {
    const none = skipped(`Node headers not found (looked in ${headerDirs.join(", ")})`)
    finish({ openblas: none, native: none })
  }

  const require = createRequire(import.meta.url)
  const napiInclude = path.dirname(require.resolve("node-addon-api/package.json"))
  mkdirSync(outDir, { recursive: true })
  const common = { cxx, nodeInclude, napiInclude }
  const blasDir = process.env.OPENBLAS_DIR
  const blasFlags = blasDir ? [`-L${path.join(blasDir, "lib")}`, `-Wl,-rpath,${path.join(blasDir, "lib")}`] : []
  const openblas = buildOne({ ...common, name: "duet_blas", label: "OpenBLAS", defines: [], libs: [...blasFlags, "-lopenblas"] })
  const native = buildOne({ ...common, name: "duet_native", label: "duet-gemm (no OpenBLAS)", defines: ["-DDUET_OWN_GEMM"], libs: [] })
  finish({ openblas, native })
} catch (e) {
  const err = skipped(`unexpected error: ${e instanceof Error ? e.message : String(e)}`)
  finish({ openblas: err, native: err })
}
