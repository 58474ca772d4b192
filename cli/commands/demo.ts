import { Command } from 'commander';
import { runPipeline } from '../../demo/pipeline.js';
import { renderText } from '../../diff/render/text.js';
import { action, parsePositiveInt } from '../common.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the whole pipeline on bundled sample stable/shadow apps with the embedded log, then print the diff report')
    .option('--requests <n>', 'requests sent through capture', (v) => parsePositiveInt(v, '--requests'), 300)
    .option('--store <dir>', 'keep the embedded log in this folder (default: a temporary folder, removed afterwards)')
    .addHelpText('after', '\nExample:\n  shadowtap demo --requests 500')
    .action(
      action(async (flags: { requests: number; store?: string }) => {
        const say = (line: string) => process.stderr.write(`demo: ${line}\n`);
        say('the shadow differs from stable on purpose: /api/products/{id} price, /api/search status 500, /api/orders/{id} +60 ms, POST /api/orders emails twice');
        const run = await runPipeline({ requests: flags.requests, log: flags.store ? { store: flags.store } : undefined, say });
        const color = process.stdout.isTTY && !process.env.NO_COLOR;
        process.stdout.write(`${renderText(run.report, { color })}\n`);
        say(`a real run of \`shadowtap diff\` would exit ${run.report.verdict === 'pass' ? 0 : 1} on this report`);
      }),
    );
}
