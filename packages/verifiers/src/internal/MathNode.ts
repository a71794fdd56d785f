/**
 * The parsed form of a math answer: a small expression tree plus the containers answers come in
 * (tuples, intervals, sets, bare lists, unions, matrices, relations). Printing it gives the
 * canonical text that `MathAnswer.normalize` returns.
 */
import * as Rational from "./Rational.js"

export type RelOp = "=" | "<" | "<=" | ">" | ">=" | "!=" | "~="

export type MathNode =
  /** A literal; `decimal` marks a written fractional part or exponent (an approximation). */
  | { readonly kind: "num"; readonly value: Rational.Rational; readonly decimal: boolean }
  | { readonly kind: "const"; readonly name: "pi" | "e" | "i" | "inf" }
  | { readonly kind: "var"; readonly name: string }
  | { readonly kind: "neg"; readonly arg: MathNode }
  | { readonly kind: "add" | "sub" | "mul" | "div" | "pow"; readonly left: MathNode; readonly right: MathNode }
  /** `a \pm b` (left absent for a leading `\pm b`); `sign` -1 is `\mp`. */
  | { readonly kind: "pm"; readonly left: MathNode | null; readonly right: MathNode; readonly sign: 1 | -1 }
  | { readonly kind: "func"; readonly name: string; readonly args: ReadonlyArray<MathNode> }
  | { readonly kind: "percent"; readonly arg: MathNode }
  /** `30^\circ`: compared both as the number and as radians (see MathCompare). */
  | { readonly kind: "degree"; readonly arg: MathNode }
  | {
    readonly kind: "tuple"
    readonly open: "(" | "["
    readonly close: ")" | "]"
    readonly items: ReadonlyArray<MathNode>
  }
  | { readonly kind: "set"; readonly items: ReadonlyArray<MathNode> }
  /** Top-level comma list with no brackets: "1, 2" (compared as a set, see MathCompare). */
  | { readonly kind: "list"; readonly items: ReadonlyArray<MathNode> }
  | { readonly kind: "union"; readonly items: ReadonlyArray<MathNode> }
  | { readonly kind: "matrix"; readonly rows: ReadonlyArray<ReadonlyArray<MathNode>> }
  | { readonly kind: "rel"; readonly ops: ReadonlyArray<RelOp>; readonly sides: ReadonlyArray<MathNode> }

/** Children of a node, in order. */
export const children = (n: MathNode): ReadonlyArray<MathNode> => {
  switch (n.kind) {
    case "num":
    case "const":
    case "var":
      return []
    case "neg":
    case "percent":
    case "degree":
      return [n.arg]
    case "add":
    case "sub":
    case "mul":
    case "div":
    case "pow":
      return [n.left, n.right]
    case "pm":
      return n.left === null ? [n.right] : [n.left, n.right]
    case "func":
      return n.args
    case "tuple":
    case "set":
    case "list":
    case "union":
      return n.items
    case "matrix":
      return n.rows.flat()
    case "rel":
      return n.sides
  }
}

/** True when some node of the tree satisfies `p` (iterative: trees are depth-capped anyway). */
export const some = (root: MathNode, p: (n: MathNode) => boolean): boolean => {
  const stack: Array<MathNode> = [root]
  while (stack.length > 0) {
    const n = stack.pop()!
    if (p(n)) return true
    for (const c of children(n)) stack.push(c)
  }
  return false
}

/** Bottom-up rebuild applying `f` to every node. */
export const map = (n: MathNode, f: (m: MathNode) => MathNode): MathNode => {
  switch (n.kind) {
    case "num":
    case "const":
    case "var":
      return f(n)
    case "neg":
    case "percent":
    case "degree":
      return f({ ...n, arg: map(n.arg, f) })
    case "add":
    case "sub":
    case "mul":
    case "div":
    case "pow":
      return f({ ...n, left: map(n.left, f), right: map(n.right, f) })
    case "pm":
      return f({ ...n, left: n.left === null ? null : map(n.left, f), right: map(n.right, f) })
    case "func":
      return f({ ...n, args: n.args.map((a) => map(a, f)) })
    case "tuple":
    case "set":
    case "list":
    case "union":
      return f({ ...n, items: n.items.map((a) => map(a, f)) })
    case "matrix":
      return f({ ...n, rows: n.rows.map((r) => r.map((a) => map(a, f))) })
    case "rel":
      return f({ ...n, sides: n.sides.map((a) => map(a, f)) })
  }
}

/** Free variable names, sorted. */
export const variables = (root: MathNode): ReadonlyArray<string> => {
  const names = new Set<string>()
  some(root, (n) => {
    if (n.kind === "var") names.add(n.name)
    return false
  })
  return [...names].sort()
}

const PRECEDENCE: Record<string, number> = { add: 1, sub: 1, pm: 1, mul: 2, div: 2, neg: 3, pow: 4 }

const precedenceOf = (n: MathNode): number => PRECEDENCE[n.kind] ?? 5

/** Canonical text: plain ASCII math (`sqrt(2)/2`, `(1, 2)`, `{1, 2}`, `[0, 1)`). */
export const toText = (n: MathNode): string => {
  const wrap = (c: MathNode, min: number): string => (precedenceOf(c) < min ? `(${toText(c)})` : toText(c))
  switch (n.kind) {
    case "num":
      return Rational.toString(n.value)
    case "const":
      return n.name
    case "var":
      return n.name
    case "neg":
      return `-${wrap(n.arg, 4)}`
    case "add":
      return `${wrap(n.left, 1)} + ${wrap(n.right, 2)}`
    case "sub":
      return `${wrap(n.left, 1)} - ${wrap(n.right, 2)}`
    case "mul":
      return `${wrap(n.left, 2)}*${wrap(n.right, 3)}`
    case "div":
      return `${wrap(n.left, 2)}/${wrap(n.right, 3)}`
    case "pow":
      return `${wrap(n.left, 5)}^${wrap(n.right, 5)}`
    case "pm": {
      const op = n.sign === 1 ? "±" : "∓"
      return n.left === null ? `${op}${wrap(n.right, 2)}` : `${wrap(n.left, 1)} ${op} ${wrap(n.right, 2)}`
    }
    case "func":
      return `${n.name}(${n.args.map(toText).join(", ")})`
    case "percent":
      return `${wrap(n.arg, 5)}%`
    case "degree":
      return `${wrap(n.arg, 5)}°`
    case "tuple":
      return `${n.open}${n.items.map(toText).join(", ")}${n.close}`
    case "set":
      return `{${n.items.map(toText).join(", ")}}`
    case "list":
      return n.items.map(toText).join(", ")
    case "union":
      return n.items.map(toText).join(" U ")
    case "matrix":
      return `[${n.rows.map((r) => `[${r.map(toText).join(", ")}]`).join(", ")}]`
    case "rel":
      return n.sides.map((s, i) => (i === 0 ? toText(s) : ` ${n.ops[i - 1]} ${toText(s)}`)).join("")
  }
}
