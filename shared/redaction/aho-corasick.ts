/**
 * An Aho–Corasick automaton over words given as symbol sequences, with the failure links folded
 * into the goto table so that a scan never backtracks: `next[state * alphabet + symbol]` is the
 * state after reading `symbol`, and `accepting[state]` is 1 when a word ends there.
 */
export function ahoCorasick(words: readonly number[][], alphabet: number): { next: Int16Array; accepting: Uint8Array; states: number } {
  const maxStates = words.reduce((n, w) => n + w.length, 1);
  const next = new Int16Array(maxStates * alphabet).fill(-1);
  const accepting = new Uint8Array(maxStates);
  let states = 1;
  for (const word of words) {
    let state = 0;
    for (const symbol of word) {
      if (next[state * alphabet + symbol] === -1) next[state * alphabet + symbol] = states++;
      state = next[state * alphabet + symbol];
    }
    accepting[state] = 1;
  }
  // Breadth first: each missing transition follows the failure link.
  const fail = new Int16Array(states);
  const queue: number[] = [];
  for (let s = 0; s < alphabet; s++) {
    const child = next[s];
    if (child === -1) next[s] = 0;
    else queue.push(child);
  }
  while (queue.length > 0) {
    const state = queue.shift()!;
    if (accepting[fail[state]]) accepting[state] = 1;
    for (let s = 0; s < alphabet; s++) {
      const child = next[state * alphabet + s];
      if (child === -1) next[state * alphabet + s] = next[fail[state] * alphabet + s];
      else {
        fail[child] = next[fail[state] * alphabet + s];
        queue.push(child);
      }
    }
  }
  return { next: next.subarray(0, states * alphabet), accepting: accepting.subarray(0, states), states };
}
