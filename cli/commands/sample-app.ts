import { Command, Option } from 'commander';
import { startSampleApp, type SampleVariant } from '../../demo/sample-app.js';
import { action, parseListen } from '../common.js';

/** Runs the demo's sample service on its own, for docker-compose and Kubernetes examples. */
export function registerSampleApp(program: Command): void {
  program
    .command('sample-app', { hidden: true })
    .description('run the bundled sample stable or shadow service')
    .addOption(new Option('--variant <variant>', 'which sample').choices(['stable', 'shadow']).default('stable'))
    .option('--listen <addr>', 'address to listen on', ':8080')
    .action(
      action(async (flags: { variant: SampleVariant; listen: string }) => {
        const listen = parseListen(flags.listen);
        const app = await startSampleApp(flags.variant, listen.port, listen.host);
        process.stderr.write(`sample ${flags.variant} app listening on ${app.url}\n`);
        await new Promise<void>((resolve) => {
          process.once('SIGTERM', resolve);
          process.once('SIGINT', resolve);
        });
        await app.close();
      }),
    );
}
