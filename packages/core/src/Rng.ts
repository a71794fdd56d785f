/**
 * A seedable, splittable pseudo-random generator: xoshiro128** seeded through SplitMix32.
 * Same seed, same stream, on every machine and run. `split()` derives an independent child (for a
 * worker, a prompt, a step) without advancing a shared stream, so adding a consumer never changes
 * what the others draw — the property that makes seeded RL runs reproducible.
 *
 * State is explicit: an `Rng` is a mutable generator object, cheap to copy with `clone()`.
 */

const splitMix32 = (seed: number): (() => number) => {
  let s = seed >>> 0
  return () => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
}

const rotl = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0

export class Rng {
  private constructor(private readonly s: Uint32Array) {}

  /** A generator from an integer seed (any JS number; the low 53 bits are used). */
  static seeded(seed: number): Rng {
    if (!Number.isFinite(seed)) throw new RangeError(`Rng seed must be finite, got ${seed}`)
    const hi = Math.floor(Math.abs(seed) / 2 ** 32) >>> 0
    const next = splitMix32((seed >>> 0) ^ Math.imul(hi, 0x27d4eb2d))
    const s = new Uint32Array([next(), next(), next(), next()])
    if ((s[0]! | s[1]! | s[2]! | s[3]!) === 0) s[0] = 1
    return new Rng(s)
  }

  /** Next uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.s
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0
    const t = (s[1]! << 9) >>> 0
    s[2]! ^= s[0]!
    s[3]! ^= s[1]!
    s[1]! ^= s[2]!
    s[0]! ^= s[3]!
    s[2]! ^= t
    s[3] = rotl(s[3]!, 11)
    return result
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  float(): number {
    const hi = this.nextUint32() >>> 5
    const lo = this.nextUint32() >>> 6
    return (hi * 67108864 + lo) / 9007199254740992
  }

  /** Uniform integer in [0, n). Unbiased (rejection sampling). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 2 ** 32) throw new RangeError(`Rng.int: n must be an integer in [1, 2^32], got ${n}`)
    const limit = 2 ** 32 - (2 ** 32 % n)
    for (;;) {
      const x = this.nextUint32()
      if (x < limit) return x % n
    }
  }

  /** Standard normal draw (Box-Muller). */
  normal(): number {
    const u = 1 - this.float()
    const v = this.float()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.float() < p
  }

  /** Index drawn from unnormalised non-negative weights. */
  categorical(weights: ArrayLike<number>): number {
    let total = 0
    for (let i = 0; i < weights.length; i++) total += weights[i]!
    let u = this.float() * total
    for (let i = 0; i < weights.length; i++) {
      u -= weights[i]!
      if (u < 0) return i
    }
    return weights.length - 1
  }

  /** In-place Fisher-Yates shuffle; returns the array. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const tmp = xs[i]!
      xs[i] = xs[j]!
      xs[j] = tmp
    }
    return xs
  }

  /** An independent child generator; advances this one by two draws. */
  split(): Rng {
    return Rng.seeded(this.nextUint32() * 2 ** 21 + (this.nextUint32() >>> 11))
  }

  /**
   * A child keyed by `key` that does NOT advance this generator: `fold(k)` gives the same stream
   * for the same parent state and key (like JAX's `fold_in`).
   */
  fold(key: number): Rng {
    const s = this.s
    const next = splitMix32((s[0]! ^ Math.imul(key >>> 0, 0x9e3779b1)) >>> 0)
    const mixed = new Uint32Array([next() ^ s[1]!, next() ^ s[2]!, next() ^ s[3]!, next() ^ s[0]!])
    if ((mixed[0]! | mixed[1]! | mixed[2]! | mixed[3]!) === 0) mixed[0] = 1
    return new Rng(mixed)
  }

  /** A copy with the same state. */
  clone(): Rng {
    return new Rng(Uint32Array.from(this.s))
  }

  /** The state as four uint32s (for checkpoints). */
  state(): readonly [number, number, number, number] {
    return [this.s[0]!, this.s[1]!, this.s[2]!, this.s[3]!]
  }

  /** Restores a generator from `state()`. */
  static fromState(state: readonly number[]): Rng {
    if (state.length !== 4 || state.some((x) => !Number.isInteger(x) || x < 0 || x > 0xffffffff)) {
      throw new RangeError("Rng.fromState: expected four uint32 values")
    }
    return new Rng(Uint32Array.from(state))
  }
}
