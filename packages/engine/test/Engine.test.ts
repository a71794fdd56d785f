import * as core from "@tensorflow/tfjs-core"
import { InvalidArgumentError } from "@duet/core"
import { afterAll, describe, expect, it } from "vitest"
import { BackendUnavailableError, Engine, tf } from "../src/index.js"
import { loadAddon } from "../src/internal/NativeAddon.js"

describe("Engine.init", () => {
  afterAll(async () => {
    delete process.env.DUET_BLAS
    await Engine.init({ backend: "wasm" })
  })

  it("auto picks wasm with duet's kernels when tfjs-node is not installed", async () => {
    const info = await Engine.init()
    expect(info.backend).toBe("wasm")
    expect(tf.getBackend()).toBe("wasm")
    expect(info.kernels).toEqual(expect.arrayContaining(["BatchMatMul", "BatchMatMul.grad", "Sum", "UnsortedSegmentSum"]))
    expect(info.matmul).toBe(loadAddon("native").ok ? "duet-gemm" : loadAddon("openblas").ok ? "openblas" : "wasm-simd")
    expect(info.describe()).toContain(`matmul ${info.matmul}`)
    expect(Engine.info()).toBe(info)
  })

  it("is idempotent: the same options give the same info", async () => {
    const a = await Engine.init({ backend: "wasm", blas: "js" })
    const b = await Engine.init({ backend: "wasm", blas: "js" })
    expect(b).toBe(a)
    expect(a.matmul).toBe("wasm-simd")
    expect(a.threads).toBe(1)
  })

  it("DUET_BLAS=0 forces the fresh-machine path (wasm SIMD kernels) for blas auto; DUET_BLAS=xnnpack the older one", async () => {
    process.env.DUET_BLAS = "0"
    const info = await Engine.init({ backend: "wasm" })
    expect(info.matmul).toBe("wasm-simd")
    process.env.DUET_BLAS = "xnnpack"
    expect((await Engine.init({ backend: "wasm" })).matmul).toBe("js-fallback")
    delete process.env.DUET_BLAS
    expect((await Engine.init({ backend: "wasm", blas: "xnnpack" })).matmul).toBe("js-fallback")
  })

  it("blas native uses duet's own GEMM addon, or fails with the install hint when it is missing", async () => {
    const load = loadAddon("native")
    if (load.ok) {
      const info = await Engine.init({ backend: "wasm", blas: "native", threads: 2 })
      expect(info.matmul).toBe("duet-gemm")
      expect(info.threads).toBe(2)
      expect(info.describe()).toContain("duet-gemm")
      expect(info.describe()).toContain("split by GEMM shape")
    } else {
      await expect(Engine.init({ backend: "wasm", blas: "native" })).rejects.toThrow(/C\+\+ compiler/)
    }
  })

  it("blas openblas uses the addon, or fails with the install hint when it is missing", async () => {
    const load = loadAddon()
    if (load.ok) {
      const info = await Engine.init({ backend: "wasm", blas: "openblas", threads: 1 })
      expect(info.matmul).toBe("openblas")
      expect(info.threads).toBe(1)
      expect(info.describe()).toContain("OpenBLAS")
    } else {
      await expect(Engine.init({ backend: "wasm", blas: "openblas" })).rejects.toBeInstanceOf(BackendUnavailableError)
    }
  })

  it("a missing tfjs-node or tfjs-node-gpu is a BackendUnavailableError with the install command", async () => {
    const node = await Engine.init({ backend: "tfjs-node" }).catch((e: unknown) => e)
    expect(node).toBeInstanceOf(BackendUnavailableError)
    expect((node as BackendUnavailableError)._tag).toBe("BackendUnavailableError")
    expect((node as Error).message).toContain("npm install @tensorflow/tfjs-node@4.22.0")
    const gpu = await Engine.init({ backend: "tfjs-node-gpu" }).catch((e: unknown) => e)
    expect(gpu).toBeInstanceOf(BackendUnavailableError)
    expect((gpu as Error).message).toContain("npm install @tensorflow/tfjs-node-gpu@4.22.0")
    expect((gpu as Error).message).toContain("CUDA 11.2")
    expect((gpu as Error).message).toContain("cuDNN 8.1")
  })

  it("rejects unknown option values naming the field", async () => {
    await expect(Engine.init({ backend: "webgpu" as never })).rejects.toThrow(InvalidArgumentError)
    await expect(Engine.init({ backend: "webgpu" as never })).rejects.toThrow(/^backend:/)
    await expect(Engine.init({ blas: "mkl" as never })).rejects.toThrow(/^blas:/)
    await expect(Engine.init({ threads: 0 })).rejects.toThrow(/^threads:/)
    await expect(Engine.init({ threads: 1.5 })).rejects.toThrow(/^threads:/)
  })

  it("kernels: stock restores tfjs's registry", async () => {
    const info = await Engine.init({ backend: "wasm", kernels: "stock" })
    expect(info.matmul).toBe("stock")
    expect(info.kernels).toEqual([])
    expect(tf.getKernel("UnsortedSegmentSum", "wasm")).toBeUndefined()
    const again = await Engine.init({ backend: "wasm" })
    expect(tf.getKernel("UnsortedSegmentSum", "wasm")).toBeDefined()
    expect(again.kernels).toContain("UnsortedSegmentSum")
  })

  it("cpu: stock kernels plus the broadcast-aware matMul gradient", async () => {
    const info = await Engine.init({ backend: "cpu" })
    expect(info.backend).toBe("cpu")
    expect(tf.getBackend()).toBe("cpu")
    expect(info.matmul).toBe("stock")
    expect(info.kernels).toEqual(["BatchMatMul.grad"])
    const a = tf.ones([2, 3, 4])
    const b = tf.ones([4, 5])
    const db = tf.grad((x: tf.Tensor) => tf.sum(tf.matMul(a, x)))(b)
    // d/dB sum(A B) = sum over batch and rows of A: each entry 2 * 3 = 6
    expect(db.shape).toEqual([4, 5])
    expect(Array.from(db.dataSync())).toEqual(new Array(20).fill(6))
    tf.dispose([a, b, db])
  })

  it("tf is the one tfjs-core instance every package imports", () => {
    expect(tf.engine()).toBe(core.engine())
    expect(typeof tf.tensor([1]).sum).toBe("function") // chained ops registered
    expect(tf.getGradient("Sum")).toBeDefined() // gradients registered
  })
})
