import { createTwoFilesPatch, diffLines } from 'diff';

/** A differing line of a text body; `line` counts from 1 in the stable body (or where the shadow's line would go). */
export interface TextDifference {
  line: number;
  change: 'value-changed' | 'removed' | 'added';
  stable?: string;
  shadow?: string;
}

const maxPatchChars = 8 * 1024;

function splitLines(value: string): string[] {
  const lines = value.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/**
 * Line differences between two texts, pairing removed and added lines of one hunk so that a
 * changed line is one difference, plus a unified patch for people. Equal texts cost nothing:
 * callers only get here when the strings differ.
 */
export function diffText(stable: string, shadow: string, maxDifferences = 50): { differences: TextDifference[]; patch: string; truncated: boolean } {
  const differences: TextDifference[] = [];
  let truncated = false;
  let line = 1;
  const changes = diffLines(stable, shadow);
  for (let i = 0; i < changes.length; i++) {
    const change = changes[i]!;
    if (!change.added && !change.removed) {
      line += change.count ?? splitLines(change.value).length;
      continue;
    }
    const removed = change.removed ? splitLines(change.value) : [];
    const next = changes[i + 1];
    const pairedAdd = change.removed && next?.added;
    const added = change.added ? splitLines(change.value) : pairedAdd ? splitLines(next.value) : [];
    if (pairedAdd) i++;
    for (let k = 0; k < Math.max(removed.length, added.length); k++) {
      if (differences.length >= maxDifferences) {
        truncated = true;
        break;
      }
      const before = removed[k];
      const after = added[k];
      differences.push({
        line: line + k,
        change: before === undefined ? 'added' : after === undefined ? 'removed' : 'value-changed',
        stable: before,
        shadow: after,
      });
    }
    line += removed.length;
  }
  let patch = createTwoFilesPatch('stable', 'shadow', stable, shadow, '', '', { context: 2 });
  if (patch.length > maxPatchChars) patch = `${patch.slice(0, maxPatchChars)}\n… (patch cut at ${maxPatchChars} characters)\n`;
  return { differences, patch, truncated };
}
