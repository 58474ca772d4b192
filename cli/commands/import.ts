import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { Command, Option } from 'commander';
import { importCaptures, type ImportItem, type ImportSource } from '../../capture/capture-importer.js';
import { recorderDefaults } from '../../capture/capture-options.js';
import { goreplayItems } from '../../capture/import-goreplay.js';
import { harItems } from '../../capture/import-har.js';
import { ShadowtapError } from '../../shared/errors.js';
import { openLog } from '../../shared/log/open-log.js';
import { captureKind } from '../../shared/log/record-log.js';
import { action, addLogOptions, logOptionsFrom, parsePositiveInt } from '../common.js';
import { addRedactionOptions, redactionFrom, type RedactionFlags } from './capture.js';

interface ImportFlags extends RedactionFlags {
  service: string;
  agent?: string;
  maxBody: number;
  brokers?: string;
  store?: string;
  topicPrefix?: string;
  partitions?: number;
}

type Format = 'har' | 'goreplay';

const readers: Record<Format, (file: Buffer, source: ImportSource, name: string) => Iterable<ImportItem>> = {
  har: (file, source, name) => harItems(file.toString('utf8'), source, name),
  goreplay: goreplayItems,
};

async function runImport(format: Format, file: string, flags: ImportFlags): Promise<number> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new ShadowtapError('ST_BAD_INPUT_FILE', `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const source: ImportSource = { agent: flags.agent ?? `import-${format}`, service: flags.service, maxBodyBytes: flags.maxBody };
  // Parse before opening the log, so a wrong file costs nothing.
  const items = [...readers[format](bytes, source, file)];
  const redaction = redactionFrom(flags);
  const log = await openLog(captureKind, logOptionsFrom(flags));
  try {
    const summary = await importCaptures(items, log, { redaction });
    const reasons = Object.entries(summary.reasons).map(([reason, n]) => `${n} ${reason}`);
    process.stdout.write(
      `imported ${summary.imported} captures from ${basename(file)} into ${log.name}` +
        (summary.skipped > 0 ? `; skipped ${summary.skipped}: ${reasons.join(', ')}` : '') +
        '\n',
    );
  } finally {
    await log.close();
  }
  return 0;
}

function addImportFormat(parent: Command, format: Format, description: string, example: string): void {
  const command = parent
    .command(`${format} <file>`)
    .description(description)
    .addOption(new Option('--service <name>', 'service name recorded with each capture').default(recorderDefaults.service))
    .addOption(new Option('--agent <name>', 'agent name recorded with each capture').default(`import-${format}`))
    .addOption(
      new Option('--max-body <bytes>', 'bodies are kept up to this many bytes (the real size is kept)')
        .default(recorderDefaults.maxBodyBytes)
        .argParser((v) => parsePositiveInt(v, '--max-body')),
    );
  addRedactionOptions(command);
  addLogOptions(command)
    .addHelpText('after', `\nExample:\n  ${example}`)
    .action(action((file: string, flags: ImportFlags) => runImport(format, file, flags)));
}

export function registerImport(program: Command): void {
  const command = program
    .command('import')
    .description('turn recorded traffic files into captures (redacted like live captures)');
  addImportFormat(
    command,
    'har',
    'import a HAR 1.2 file (browser devtools, proxies): entries with request and response',
    'shadowtap import har session.har --store .shadowtap/store --service shop',
  );
  addImportFormat(
    command,
    'goreplay',
    "import a GoReplay .gor file: requests paired with stable's original responses by id",
    'shadowtap import goreplay requests_0.gor --brokers kafka:9092',
  );
}
