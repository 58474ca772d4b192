import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { recorderDefaults } from '../capture/capture-options.js';
import { usageError } from '../shared/errors.js';
import { parseList } from './common.js';
import { redactionModes, resolveRedaction, type RedactionMode, type RedactionOptions } from '../shared/redaction/redaction-options.js';

/** Redaction flags, shared by `capture`, `import` and `replay` (its answers); a module of their own so that a command using them does not load the capture agent. */
export function addRedactionOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--redact-mode <mode>',
        'how secrets are replaced: mask ("[redacted]"), drop, hash (HMAC-SHA256 keyed by SHADOWTAP_REDACT_KEY), or seal (masked, and the originals encrypted for the replay worker)',
      )
        .choices(redactionModes)
        .default(recorderDefaults.redaction.mode),
    )
    .addOption(new Option('--seal-public-key <file>', "the replay worker's X25519 public key (PEM) for --redact-mode seal"))
    .addOption(new Option('--redact-headers <names>', 'more header names to redact, comma-separated').argParser(parseList))
    .addOption(new Option('--redact-query <names>', 'more query parameter names to redact, comma-separated').argParser(parseList))
    .addOption(new Option('--redact-paths <paths>', 'more JSON/form body fields to redact, e.g. $.user.*.pin,$.items[*].iban').argParser(parseList))
    .option('--no-redact', 'record secrets as they are (redaction is on by default)');
}

export interface RedactionFlags {
  redact: boolean;
  redactMode: string;
  sealPublicKey?: string;
  redactHeaders?: string[];
  redactQuery?: string[];
  redactPaths?: string[];
}

/** Redaction options from the flags, checked here so that a wrong mode or key stops before any log is opened. */
export function redactionFrom(opts: RedactionFlags): RedactionOptions {
  let sealPublicKey: string | undefined;
  if (opts.sealPublicKey !== undefined) {
    try {
      sealPublicKey = readFileSync(opts.sealPublicKey, 'utf8');
    } catch (error) {
      throw usageError(`cannot read --seal-public-key ${opts.sealPublicKey}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  const options: RedactionOptions = {
    enabled: opts.redact,
    mode: opts.redactMode as RedactionMode,
    sealPublicKey,
    headers: opts.redactHeaders,
    queryParams: opts.redactQuery,
    bodyPaths: opts.redactPaths,
  };
  if (options.enabled) resolveRedaction(options);
  return options;
}
