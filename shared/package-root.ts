import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding shadowtap's package.json, whether running from dist/ or from source. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'shared', 'schemas'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('shadowtap package root not found');
    dir = parent;
  }
  return dir;
}
