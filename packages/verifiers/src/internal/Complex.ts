/**
 * Complex floating point for evaluating answers at sample points (`\sqrt{-1}`, `\ln(-2)`, `e^{i\pi}`):
 * principal branches as in complex.js / mathjs (log: argument in (-pi, pi]; sqrt: real part >= 0;
 * asin, acos, atan through log and sqrt), plus the real `gamma` (Lanczos, g = 7, 9 terms, with the
 * reflection formula below 1/2). test/Complex.test.ts checks both against mathjs.
 */

export class Complex {
  constructor(readonly re: number, readonly im: number) {}

  add(b: Complex): Complex {
    return new Complex(this.re + b.re, this.im + b.im)
  }
  sub(b: Complex): Complex {
    return new Complex(this.re - b.re, this.im - b.im)
  }
  mul(b: Complex): Complex {
    return new Complex(this.re * b.re - this.im * b.im, this.re * b.im + this.im * b.re)
  }
  div(b: Complex | number): Complex {
    if (typeof b === "number") return new Complex(this.re / b, this.im / b)
    // Smith's algorithm: no overflow in c^2 + d^2 for large denominators.
    if (Math.abs(b.re) >= Math.abs(b.im)) {
      const r = b.im / b.re
      const d = b.re + b.im * r
      return new Complex((this.re + this.im * r) / d, (this.im - this.re * r) / d)
    }
    const r = b.re / b.im
    const d = b.re * r + b.im
    return new Complex((this.re * r + this.im) / d, (this.im * r - this.re) / d)
  }
  neg(): Complex {
    return new Complex(-this.re, -this.im)
  }
  abs(): number {
    return Math.hypot(this.re, this.im)
  }
  isZero(): boolean {
    return this.re === 0 && this.im === 0
  }
  exp(): Complex {
    const m = Math.exp(this.re)
    return this.im === 0 ? new Complex(m, 0) : new Complex(m * Math.cos(this.im), m * Math.sin(this.im))
  }
  /** Principal logarithm; `-Infinity` real part at 0. */
  log(): Complex {
    return new Complex(Math.log(this.abs()), Math.atan2(this.im, this.re))
  }
  /**
   * Principal square root (real part >= 0; on the negative real axis, +i sqrt|x|). The part that
   * would cancel (`r - |re|`) is computed by division instead.
   */
  sqrt(): Complex {
    if (this.isZero()) return new Complex(0, 0)
    const r = this.abs()
    if (this.re >= 0) {
      const t = Math.sqrt((r + this.re) / 2)
      return new Complex(t, this.im / (2 * t))
    }
    const t = Math.sqrt((r - this.re) / 2)
    return new Complex(Math.abs(this.im) / (2 * t), this.im < 0 ? -t : t)
  }
  /** `this^b` on the principal branch; `0^b` is 0 for `Re(b) > 0`. */
  pow(b: Complex): Complex {
    if (this.isZero()) return b.re > 0 ? new Complex(0, 0) : new Complex(NaN, NaN)
    if (b.im === 0 && Number.isInteger(b.re) && Math.abs(b.re) <= 64) {
      // Repeated squaring keeps i^2 = -1 exact where exp(2 log i) would leave 1e-16 noise.
      let result = new Complex(1, 0)
      let base: Complex = this
      for (let e = Math.abs(b.re); e > 0; e >>= 1) {
        if (e & 1) result = result.mul(base)
        base = base.mul(base)
      }
      return b.re < 0 ? new Complex(1, 0).div(result) : result
    }
    return b.mul(this.log()).exp()
  }
  sin(): Complex {
    return new Complex(Math.sin(this.re) * Math.cosh(this.im), Math.cos(this.re) * Math.sinh(this.im))
  }
  cos(): Complex {
    return new Complex(Math.cos(this.re) * Math.cosh(this.im), -Math.sin(this.re) * Math.sinh(this.im))
  }
  tan(): Complex {
    return this.sin().div(this.cos())
  }
  cot(): Complex {
    return this.cos().div(this.sin())
  }
  sec(): Complex {
    return ONE.div(this.cos())
  }
  csc(): Complex {
    return ONE.div(this.sin())
  }
  sinh(): Complex {
    return new Complex(Math.sinh(this.re) * Math.cos(this.im), Math.cosh(this.re) * Math.sin(this.im))
  }
  cosh(): Complex {
    return new Complex(Math.cosh(this.re) * Math.cos(this.im), Math.sinh(this.re) * Math.sin(this.im))
  }
  tanh(): Complex {
    return this.sinh().div(this.cosh())
  }
  /** `asin z = -i log(iz + sqrt(1 - z^2))`; real for real z in [-1, 1]. */
  asin(): Complex {
    if (this.im === 0 && Math.abs(this.re) <= 1) return new Complex(Math.asin(this.re), 0)
    const iz = new Complex(-this.im, this.re)
    const w = iz.add(ONE.sub(this.mul(this)).sqrt()).log()
    return new Complex(w.im, -w.re)
  }
  /** `acos z = pi/2 - asin z`. */
  acos(): Complex {
    if (this.im === 0 && Math.abs(this.re) <= 1) return new Complex(Math.acos(this.re), 0)
    return new Complex(Math.PI / 2, 0).sub(this.asin())
  }
  /**
   * `atan z = (i/2) (log(1 - iz) - log(1 + iz))`; real for real z. On the cut (`re = 0`,
   * `|im| > 1`) the real part is +pi/2 as in complex.js.
   */
  atan(): Complex {
    if (this.im === 0) return new Complex(Math.atan(this.re), 0)
    const iz = new Complex(-this.im, this.re)
    const d = ONE.sub(iz).log().sub(ONE.add(iz).log())
    if (this.re === 0 && Math.abs(this.im) > 1) return new Complex(Math.PI / 2, d.re / 2)
    return new Complex(-d.im / 2, d.re / 2)
  }
}

const ONE = new Complex(1, 0)

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7
]

/** The gamma function on the reals (`NaN` at the poles 0, -1, -2, ...). */
export const gamma = (x: number): number => {
  if (Number.isInteger(x) && x <= 0) return NaN
  if (Number.isInteger(x) && x <= 171) {
    let r = 1
    for (let k = 2; k < x; k++) r *= k
    return r
  }
  if (x < 0.5) return Math.PI / (Math.sin(Math.PI * x) * gamma(1 - x))
  const z = x - 1
  let a = LANCZOS[0]!
  const t = z + 7.5
  for (let k = 1; k < 9; k++) a += LANCZOS[k]! / (z + k)
  return Math.sqrt(2 * Math.PI) * Math.pow(t, z + 0.5) * Math.exp(-t) * a
}
