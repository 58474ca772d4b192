import { Command } from 'commander';
import { writeSealKeys } from '../../shared/redaction/seal-key-files.js';
import { action } from '../common.js';

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('key pairs for the seal redaction mode (capture encrypts, only replay decrypts)');
  keys
    .command('generate')
    .description('write a new X25519 key pair (PEM) into a folder and print its key id')
    .requiredOption('--out <dir>', 'folder to write the two .pem files into (created if missing; existing files are never overwritten)')
    .addHelpText(
      'after',
      [
        '',
        'Example:',
        '  shadowtap keys generate --out ./keys',
        '  then: capture agents get the .public.pem (they can seal but never read), the replay worker gets the .private.pem:',
        '  shadowtap replay --target http://shadow:8080 --seal-private-key ./keys/shadowtap-seal-<id>.private.pem',
        'Rotation: generate a new pair, give capture the new public key, and pass both private keys to replay until the old captures are gone.',
      ].join('\n'),
    )
    .action(
      action(async (flags: { out: string }) => {
        const written = await writeSealKeys(flags.out);
        process.stdout.write(
          [
            `key id ${written.keyId}`,
            `public key  ${written.publicKeyFile}  (for capture agents)`,
            `private key ${written.privateKeyFile}  (mode 0600; for the replay worker only: --seal-private-key)`,
            '',
          ].join('\n'),
        );
        return 0;
      }),
    );
}
