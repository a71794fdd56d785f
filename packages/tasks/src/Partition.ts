/**
 * `Partition`: a seed-independent, hash-based split of a problem space into train and test. A
 * problem belongs to the test side when the hash of its prompt (salted by the task name) falls in
 * the first `testShare` of [0, 1), so train and test are disjoint for ANY pair of seeds and sizes,
 * and a problem's side never depends on which machine or run drew it.
 *
 * Hash: 32-bit FNV-1a over the UTF-16 code units (Fowler, Noll, Vo), then the murmur3 fmix32
 * finalizer (Appleby) to spread short, similar keys such as "12+34=" and "12+35=".
 */
import { InvalidArgumentError } from "@duet/core"

export interface Partition {
  /** Share of the problem space held out for the test split, in (0, 1). */
  readonly testShare: number
  /** Salt mixed into every hash (the task name by default): two tasks partition independently. */
  readonly salt: string
}

export type Side = "train" | "test"

export const make = (testShare: number, salt: string): Partition => {
  if (!(testShare > 0 && testShare < 1)) {
    throw new InvalidArgumentError("testShare", `is ${testShare}; it must lie strictly between 0 and 1`)
  }
  return { testShare, salt }
}

/** FNV-1a (32-bit) of a string's UTF-16 code units, finalised with murmur3's fmix32. */
export const hash32 = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** Uniform-looking position of `key` in [0, 1). */
export const position = (partition: Partition, key: string): number =>
  hash32(`${partition.salt}\u0000${key}`) / 4294967296

export const sideOf = (partition: Partition, key: string): Side =>
  position(partition, key) < partition.testShare ? "test" : "train"
