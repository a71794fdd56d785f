/**
 * Backend choice and duet's fast kernels for tfjs 4.22.
 *
 * `init` picks the backend (`auto`: tfjs-node-gpu or tfjs-node when the user installed them, else
 * wasm), then on wasm registers duet's kernels over the stock ones: BatchMatMul on OpenBLAS
 * through the optional addon, else on duet's prebuilt wasm SIMD kernels (or, if those cannot
 * load, a pure-JS fallback that folds batches onto XNNPACK), Sum over
 * leading axes, the missing UnsortedSegmentSum, and the fused kernels behind `Ops`. Every package
 * uses the one `tf` exported here, so all share one tfjs instance and one engine.
 *
 * Measured reasons for each override: /work/shared/ENGINE-NOTES.md and docs/engine.md.
 */
import * as tf from "@tensorflow/tfjs"
import "@tensorflow/tfjs-backend-wasm"
import { InvalidArgumentError } from "@duet/core"
import { createRequire } from "node:module"
import os from "node:os"
import { BackendUnavailableError, installHints } from "./Errors.js"
import { installDuetKernels, restoreStockKernels, withStockKernels, type KernelMode } from "./internal/Installer.js"
import { loadAddon, type NativeAddon } from "./internal/NativeAddon.js"
import { loadWasmKernels } from "./internal/WasmKernels.js"
import { assertWasmInternals } from "./internal/WasmBackend.js"

export { tf, withStockKernels }

export type BackendName = "auto" | "wasm" | "cpu" | "tfjs-node" | "tfjs-node-gpu"
/**
 * Matmul path on wasm: "native" (duet's own GEMM and fused kernels, compiled at install with the
 * machine's C++ compiler: no system library), "openblas" (the same addon with OpenBLAS's sgemm),
 * "js" (no compiler needed: duet's prebuilt wasm SIMD kernels, falling back to "xnnpack" if they
 * cannot load), "xnnpack" (the older pure-JS path: explicit transposes + batch folding onto tfjs's
 * XNNPACK, JS loops for the fused kernels), or "auto" (native, else OpenBLAS, else "js").
 */
export type BlasChoice = "auto" | "native" | "openblas" | "js" | "xnnpack"

export interface InitOptions {
  /** Backend (default "auto"). */
  readonly backend?: BackendName
  /** Matmul on wasm (see BlasChoice; env DUET_BLAS=native|openblas|0 (js)|xnnpack decides "auto"). */
  readonly blas?: BlasChoice
  /**
   * Threads for large GEMMs on the native / OpenBLAS paths (default: OPENBLAS_NUM_THREADS, else all
   * cores). Split by shape only; on "native" results are bit-identical for any thread count.
   */
  readonly threads?: number
  /** "stock" leaves tfjs's own kernels in place (benchmark baseline); default "duet". */
  readonly kernels?: "duet" | "stock"
}

export interface EngineInfo {
  /** The active backend: "wasm", "cpu", "tfjs-node" or "tfjs-node-gpu". */
  readonly backend: string
  /** Who runs BatchMatMul. */
  readonly matmul: "duet-gemm" | "openblas" | "wasm-simd" | "js-fallback" | "stock" | "native"
  /** Kernels (and gradients, as "Name.grad") duet registered over or beside the stock ones. */
  readonly kernels: string[]
  /** Most CPU threads a GEMM uses (GEMMs below about 2e6 multiply-adds run on one). */
  readonly threads: number
  /** Why a faster path was not taken (missing addon, backend that failed to load...). */
  readonly notes: string[]
  /** One line for logs and `duet bench`. */
  describe(): string
}

const backendNames: ReadonlyArray<BackendName> = ["auto", "wasm", "cpu", "tfjs-node", "tfjs-node-gpu"]
const blasChoices: ReadonlyArray<BlasChoice> = ["auto", "native", "openblas", "js", "xnnpack"]

let current: { key: string; info: Promise<EngineInfo> } | undefined

/** The last successful `init`'s result, if any. */
let active: EngineInfo | undefined

/** The EngineInfo of the last completed `init`, or undefined before one. */
export const info = (): EngineInfo | undefined => active

/** Blas choice after the DUET_BLAS environment switch (it only decides "auto"). */
const blasFromEnv = (choice: BlasChoice): BlasChoice => {
  if (choice !== "auto") return choice
  const env = (process.env.DUET_BLAS ?? "").trim().toLowerCase()
  if (env === "0" || env === "js" || env === "off" || env === "false") return "js"
  if (env === "1" || env === "openblas") return "openblas"
  if (env === "native") return "native"
  if (env === "xnnpack") return "xnnpack"
  return "auto"
}

const defaultThreads = (): number => {
  const env = Number(process.env.OPENBLAS_NUM_THREADS)
  return Number.isInteger(env) && env > 0 ? env : os.availableParallelism()
}

const quietly = async <A>(f: () => Promise<A>): Promise<A> => {
  // tfjs-backend-cpu prints a banner recommending tfjs-node when created under Node; duet makes
  // that choice itself (and says so in EngineInfo), so the banner is noise.
  const warn = console.warn
  console.warn = (...args: unknown[]) => {
    if (!String(args[0]).includes("tfjs-node")) warn(...args)
  }
  try {
    return await f()
  } finally {
    console.warn = warn
  }
}

const setBackend = async (name: string): Promise<void> => {
  const ok = await quietly(() => tf.setBackend(name))
  if (!ok) throw new BackendUnavailableError(name, `tf.setBackend("${name}") failed`, "reinstall @duet/engine's dependencies")
  await tf.ready()
}

/** Loads @tensorflow/tfjs-node(-gpu) if installed; returns the failure reason otherwise. */
const loadNodeBackend = async (pkg: "tfjs-node" | "tfjs-node-gpu"): Promise<{ ok: true; version: string } | { ok: false; reason: string; cause?: unknown }> => {
  const spec = `@tensorflow/${pkg}`
  const require = createRequire(import.meta.url)
  try {
    require.resolve(spec)
  } catch {
    return { ok: false, reason: `${spec} is not installed` }
  }
  try {
    await import(spec)
    let version = "unknown"
    try {
      version = (require(`${spec}/package.json`) as { version: string }).version
    } catch {
      // a package without an exported package.json still works
    }
    if (tf.findBackend("tensorflow") == null) return { ok: false, reason: `${spec} loaded but registered no "tensorflow" backend` }
    return { ok: true, version }
  } catch (cause) {
    const msg = cause instanceof Error ? cause.message.split("\n")[0]! : String(cause)
    return { ok: false, reason: `${spec} is installed but failed to load (${msg})`, cause }
  }
}

const makeInfo = (fields: Omit<EngineInfo, "describe">, detail: string): EngineInfo => ({
  ...fields,
  describe: () => {
    const kernels = fields.kernels.length > 0 ? fields.kernels.join(", ") : "none"
    const notes = fields.notes.length > 0 ? `; notes: ${fields.notes.join("; ")}` : ""
    const threads = (fields.matmul === "openblas" || fields.matmul === "duet-gemm") && fields.threads > 1 ? `1-${fields.threads} threads, split by GEMM shape` : `${fields.threads} thread${fields.threads === 1 ? "" : "s"}`
    return `backend ${fields.backend} | matmul ${fields.matmul} (${detail}, ${threads}) | duet kernels: ${kernels}${notes}`
  }
})

const run = async (opts: Required<InitOptions>): Promise<EngineInfo> => {
  const notes: string[] = []
  let backend: string = opts.backend
  if (opts.backend === "auto") {
    backend = "wasm"
    for (const pkg of ["tfjs-node-gpu", "tfjs-node"] as const) {
      const loaded = await loadNodeBackend(pkg)
      if (loaded.ok) {
        backend = pkg
        break
      }
      if (!loaded.reason.endsWith("is not installed")) notes.push(loaded.reason)
    }
  } else if (opts.backend === "tfjs-node" || opts.backend === "tfjs-node-gpu") {
    const loaded = await loadNodeBackend(opts.backend)
    if (!loaded.ok) {
      throw new BackendUnavailableError(opts.backend, loaded.reason, installHints[opts.backend], { cause: loaded.cause })
    }
  }

  if (backend === "tfjs-node" || backend === "tfjs-node-gpu") {
    await setBackend("tensorflow")
    restoreStockKernels()
    const kernels = opts.kernels === "duet" ? installDuetKernels({ backend: "tensorflow", mode: "gradients-only" }) : []
    return makeInfo(
      { backend, matmul: "native", kernels, threads: os.availableParallelism(), notes },
      "libtensorflow"
    )
  }

  await setBackend(backend)
  restoreStockKernels()
  if (backend === "cpu") {
    const kernels = opts.kernels === "duet" ? installDuetKernels({ backend: "cpu", mode: "gradients-only" }) : []
    return makeInfo({ backend, matmul: "stock", kernels, threads: 1, notes }, "tfjs-backend-cpu, pure JS")
  }

  // wasm
  if (opts.kernels === "stock") {
    return makeInfo({ backend, matmul: "stock", kernels: [], threads: 1, notes }, "stock tfjs-backend-wasm")
  }
  let addon: NativeAddon | undefined
  let kind: "native" | "openblas" = "native"
  if (opts.blas === "native" || opts.blas === "openblas") {
    const load = loadAddon(opts.blas)
    if (!load.ok) throw new BackendUnavailableError(opts.blas, load.reason, installHints[opts.blas])
    addon = load.addon
    kind = opts.blas
  } else if (opts.blas === "auto") {
    for (const k of ["native", "openblas"] as const) {
      const load = loadAddon(k)
      if (load.ok) {
        addon = load.addon
        kind = k
        break
      }
      notes.push(`${k === "native" ? "duet's native GEMM" : "OpenBLAS"} unavailable (${load.reason})`)
    }
  } else {
    notes.push(`no native addon requested (blas: "${opts.blas}" or DUET_BLAS=${process.env.DUET_BLAS ?? "unset"})`)
  }
  if (addon !== undefined) {
    addon.setThreads(opts.threads)
    const kernels = installDuetKernels({ backend: "wasm", mode: "all", matmul: { kind: "addon", addon } })
    const detail = kind === "native" ? addon.config().split(" (")[0]! : addon.config().split(" ").slice(0, 2).join(" ")
    return makeInfo({ backend, matmul: kind === "native" ? "duet-gemm" : "openblas", kernels, threads: opts.threads, notes: kind === "native" ? notes.filter((n) => !n.startsWith("OpenBLAS")) : notes }, detail)
  }
  if (opts.blas !== "xnnpack") {
    const wasm = loadWasmKernels(assertWasmInternals(tf.findBackend("wasm")))
    if (wasm.ok) {
      const kernels = installDuetKernels({ backend: "wasm", mode: "all", matmul: { kind: "addon", addon: wasm.addon } })
      return makeInfo({ backend, matmul: "wasm-simd", kernels, threads: 1, notes }, "duet's prebuilt wasm SIMD GEMM and fused kernels, no system library")
    }
    notes.push(wasm.reason)
  }
  const mode: KernelMode = { kind: "js" }
  const kernels = installDuetKernels({ backend: "wasm", mode: "all", matmul: mode })
  return makeInfo({ backend, matmul: "js-fallback", kernels, threads: 1, notes }, "explicit transposes + batch folding onto XNNPACK")
}

/**
 * Chooses the backend and installs duet's kernels. Idempotent: the same options return the same
 * result; other options reconfigure (switching backend or matmul path) and return a new one.
 * Throws `BackendUnavailableError` when an explicitly requested backend (or blas: "openblas")
 * cannot be used, and `InvalidArgumentError` for an unknown option value.
 */
export const init = (options: InitOptions = {}): Promise<EngineInfo> => {
  const backend = options.backend ?? "auto"
  if (!backendNames.includes(backend)) {
    return Promise.reject(new InvalidArgumentError("backend", `must be one of ${backendNames.join(", ")}; got ${String(backend)}`))
  }
  const blasOpt = options.blas ?? "auto"
  if (!blasChoices.includes(blasOpt)) {
    return Promise.reject(new InvalidArgumentError("blas", `must be one of ${blasChoices.join(", ")}; got ${String(blasOpt)}`))
  }
  const threads = options.threads ?? defaultThreads()
  if (!Number.isInteger(threads) || threads < 1) {
    return Promise.reject(new InvalidArgumentError("threads", `must be a positive integer; got ${String(threads)}`))
  }
  const kernels = options.kernels ?? "duet"
  if (kernels !== "duet" && kernels !== "stock") {
    return Promise.reject(new InvalidArgumentError("kernels", `must be "duet" or "stock"; got ${String(kernels)}`))
  }
  const resolved: Required<InitOptions> = { backend, blas: blasFromEnv(blasOpt), threads, kernels }
  const key = JSON.stringify(resolved)
  if (current?.key === key) return current.info
  const previous = current?.info.catch(() => undefined) ?? Promise.resolve(undefined)
  const next = previous.then(() => run(resolved))
  current = { key, info: next }
  next.then(
    (i) => {
      active = i
    },
    () => {
      if (current?.info === next) current = undefined
    }
  )
  return next
}
