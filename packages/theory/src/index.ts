/**
 * @duet/theory — the 2-GRPO paper's claims as checks that work for ANY `AdvantageTransform`:
 * exact expected policy gradients on small softmax bandits, Monte Carlo with stated tolerances,
 * the propositions, and the report `duet theory` prints. Pure: no effect, no tfjs.
 */
export * as Bandit from "./Bandit.js"
export * as Concentration from "./Concentration.js"
export * as Expectation from "./Expectation.js"
export * as Propositions from "./Propositions.js"
export * as Report from "./Report.js"
