/** One thing wrong in a config file, at a dotted key path such as `replay.rate`. */
export interface ConfigProblem {
  /** Dotted path of the key, or empty for the file as a whole. */
  path: string;
  message: string;
  /** 1-based line in the file, when known. */
  line?: number;
}

/** `shadowtap.yml:4: replay.rate: must be a positive number; got "fast"`, the way compilers print. */
export function formatProblem(file: string, problem: ConfigProblem): string {
  const where = problem.line === undefined ? file : `${file}:${problem.line}`;
  return problem.path ? `${where}: ${problem.path}: ${problem.message}` : `${where}: ${problem.message}`;
}
