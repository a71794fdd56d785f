/**
 * `GoldAnswer`: pulling the gold answer out of a reference solution, the way the datasets'
 * own graders do.
 * - GSM8K (Cobbe et al. 2021): the solution ends in a line `#### N`; the gold is N with thousands
 *   separators removed (`#### 1,200` -> "1200").
 * - MATH (Hendrycks et al. 2021): the gold is the content of the LAST `\boxed{...}` (or `\fbox{...}`)
 *   of the solution, read with balanced braces (`\boxed{\frac{1}{2}}` -> "\frac{1}{2}"); escaped
 *   braces `\{ \}` do not count. `\boxed 5` (no braces) gives "5".
 */

/** Text after the last "####", trimmed, with commas between digit groups removed; undefined when absent or empty. */
export const afterHashes = (solution: string): string | undefined => {
  const at = solution.lastIndexOf("####")
  if (at < 0) return undefined
  const gold = solution
    .slice(at + 4)
    .trim()
    .replace(/(\d),(?=\d{3}(?!\d))/g, "$1")
  return gold === "" ? undefined : gold
}

/** The reasoning before the "####" line (GSM8K), trimmed. */
export const beforeHashes = (solution: string): string => {
  const at = solution.lastIndexOf("####")
  return (at < 0 ? solution : solution.slice(0, at)).trim()
}

/** Content of the last `\boxed{...}` / `\fbox{...}` with balanced braces; undefined when none or unbalanced. */
export const lastBoxed = (solution: string): string | undefined => {
  const at = Math.max(solution.lastIndexOf("\\boxed"), solution.lastIndexOf("\\fbox"))
  if (at < 0) return undefined
  let i = at + (solution.startsWith("\\boxed", at) ? 6 : 5)
  if (solution[i] === " ") {
    // `\boxed 5`: the argument runs to the next space or `$`.
    const m = /^ +([^\s$]+)/.exec(solution.slice(i))
    return m?.[1]
  }
  if (solution[i] !== "{") return undefined
  let depth = 0
  const start = i + 1
  for (; i < solution.length; i++) {
    const c = solution[i]
    if (c === "\\") {
      i++ // skip the escaped character (\{ and \} are literal braces)
      continue
    }
    if (c === "{") depth++
    else if (c === "}" && --depth === 0) {
      const inner = solution.slice(start, i).trim()
      return inner === "" ? undefined : inner
    }
  }
  return undefined
}
