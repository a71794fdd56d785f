/**
 * Exact rational numbers on BigInt, always reduced, denominator > 0. Used to compare integers,
 * fractions and terminating or repeating decimals exactly (no float rounding for 2^100 or 7/3).
 * Every operation that could grow without bound (powers, factorials) is capped by the caller.
 */

export interface Rational {
  readonly num: bigint
  readonly den: bigint
}

const abs = (x: bigint): bigint => (x < 0n ? -x : x)

const gcd = (a: bigint, b: bigint): bigint => {
  a = abs(a)
  b = abs(b)
  while (b !== 0n) [a, b] = [b, a % b]
  return a
}

/** A reduced rational; `den` must not be 0. */
export const make = (num: bigint, den: bigint = 1n): Rational => {
  if (den === 0n) throw new RangeError("Rational: zero denominator")
  if (den < 0n) {
    num = -num
    den = -den
  }
  const g = gcd(num, den)
  return g > 1n ? { num: num / g, den: den / g } : { num, den }
}

export const zero: Rational = { num: 0n, den: 1n }
export const one: Rational = { num: 1n, den: 1n }

export const add = (a: Rational, b: Rational): Rational => make(a.num * b.den + b.num * a.den, a.den * b.den)
export const sub = (a: Rational, b: Rational): Rational => make(a.num * b.den - b.num * a.den, a.den * b.den)
export const mul = (a: Rational, b: Rational): Rational => make(a.num * b.num, a.den * b.den)
export const neg = (a: Rational): Rational => ({ num: -a.num, den: a.den })
/** `null` when dividing by zero. */
export const div = (a: Rational, b: Rational): Rational | null => (b.num === 0n ? null : make(a.num * b.den, a.den * b.num))
export const equals = (a: Rational, b: Rational): boolean => a.num === b.num && a.den === b.den
export const isInteger = (a: Rational): boolean => a.den === 1n

/** Bits needed for the larger of numerator and denominator (a size measure for caps). */
export const bitLength = (a: Rational): number => Math.max(abs(a.num).toString(16).length, a.den.toString(16).length) * 4

/** `a^e` for an integer exponent; `null` for 0^negative or when the result would exceed `maxBits`. */
export const powInt = (a: Rational, e: bigint, maxBits: number): Rational | null => {
  if (e === 0n) return one
  if (a.num === 0n) return e > 0n ? zero : null
  const n = e < 0n ? -e : e
  if (Number(n) * Math.max(1, bitLength(a)) > maxBits) {
    // 1 and -1 stay small whatever the exponent.
    if (a.den === 1n && abs(a.num) === 1n) return make(a.num === 1n || n % 2n === 0n ? 1n : -1n)
    return null
  }
  const r = make(a.num ** n, a.den ** n)
  return e < 0n ? div(one, r) : r
}

/** The exact integer k-th root of a non-negative BigInt, or `null` if it is not a perfect power. */
const integerRoot = (x: bigint, k: number): bigint | null => {
  if (x < 0n) return null
  if (x < 2n) return x
  // Newton's method on BigInt, starting above the root.
  const kb = BigInt(k)
  let r = 1n << BigInt(Math.ceil(x.toString(2).length / k) + 1)
  for (;;) {
    const next = ((kb - 1n) * r + x / r ** (kb - 1n)) / kb
    if (next >= r) break
    r = next
  }
  return r ** kb === x ? r : null
}

/** The exact k-th root (k >= 1) when it is rational; odd roots of negatives are negative. */
export const root = (a: Rational, k: number): Rational | null => {
  if (k === 1) return a
  const negative = a.num < 0n
  if (negative && k % 2 === 0) return null
  const n = integerRoot(abs(a.num), k)
  const d = integerRoot(a.den, k)
  if (n === null || d === null) return null
  return make(negative ? -n : n, d)
}

/** Nearest double (exact for numerator and denominator below 2^53, close otherwise). */
export const toNumber = (a: Rational): number => {
  const n = Number(a.num)
  const d = Number(a.den)
  if (Number.isFinite(n) && Number.isFinite(d)) return n / d
  // Scale both down to keep the ratio finite.
  const shift = BigInt(Math.max(0, Math.max(abs(a.num).toString(2).length, a.den.toString(2).length) - 1000))
  return Number(a.num >> shift) / Number(a.den >> shift)
}

/** Canonical text: `3`, `-7/2`. */
export const toString = (a: Rational): string => (a.den === 1n ? `${a.num}` : `${a.num}/${a.den}`)

/**
 * Parses a decimal literal `int.frac` with an optional repeating block (`0.1\overline{6}` = 1/6) and
 * a base-10 exponent. Digits only; the caller has validated the shape.
 */
export const fromDecimal = (intPart: string, fracPart: string, repeating: string, exponent: number): Rational => {
  const scale = 10n ** BigInt(fracPart.length)
  let value = make(BigInt(intPart === "" ? "0" : intPart) * scale + BigInt(fracPart === "" ? "0" : fracPart), scale)
  if (repeating !== "") {
    // 0.f(r) adds r / ((10^|r| - 1) * 10^|f|).
    value = add(value, make(BigInt(repeating), (10n ** BigInt(repeating.length) - 1n) * scale))
  }
  if (exponent !== 0) {
    const p = 10n ** BigInt(Math.abs(exponent))
    value = exponent > 0 ? mul(value, make(p)) : make(value.num, value.den * p)
  }
  return value
}
