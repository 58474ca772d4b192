import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Command, Option } from 'commander';
import { importCaptures, type ImportItem, type ImportSource } from '../../capture/capture-importer.js';
import { recorderDefaults } from '../../capture/capture-options.js';
import { goreplayItems } from '../../capture/import-goreplay.js';
import { harItems } from '../../capture/import-har.js';
import { ShadowtapError } from '../../shared/errors.js';
import { openLog } from '../../shared/log/open-log.js';
import { captureKind, type RecordLog } from '../../shared/log/record-log.js';
import type { Capture } from '../../shared/records/types.js';
import { storePartitionsOption } from '../store-partitions-option.js';
import { action, addLogOptions, logOptionsFrom, parsePositiveInt } from '../common.js';
import { addRedactionOptions, redactionFrom, type RedactionFlags } from '../redaction-flags.js';

interface ImportFlags extends RedactionFlags {
  service: string;
  agent?: string;
  maxBody: number;
  brokers?: string;
  store?: string;
  topicPrefix?: string;
  partitions?: number;
  storePartitions?: number;
}

type Format = 'har' | 'goreplay';

const readers: Record<Format, (file: AsyncIterable<Buffer>, source: ImportSource, name: string) => AsyncIterable<ImportItem>> = {
  har: harItems,
  goreplay: goreplayItems,
};

/** Chunks of a file as read: a MiB at a time, so a file of any size is read in bounded memory. */
const chunkBytes = 1024 * 1024;
/** A progress line at most this often, and only for an import that lasts longer. */
const progressEveryMs = 1000;

async function runImport(format: Format, file: string, flags: ImportFlags): Promise<number> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (error) {
    throw new ShadowtapError('ST_BAD_INPUT_FILE', `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const source: ImportSource = { agent: flags.agent ?? `import-${format}`, service: flags.service, maxBodyBytes: flags.maxBody };
  let bytesRead = 0;
  async function* chunks(): AsyncGenerator<Buffer> {
    const stream = createReadStream(file, { highWaterMark: chunkBytes });
    try {
      for await (const chunk of stream) {
        bytesRead += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
    } catch (error) {
      throw new ShadowtapError('ST_BAD_INPUT_FILE', `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    } finally {
      stream.destroy();
    }
  }
  const progress = new ImportProgress(basename(file), size, () => bytesRead);
  // Opened at the first batch of captures, so a file in the wrong format costs nothing.
  let log: RecordLog<Capture> | undefined;
  const sink = {
    get name() {
      return log?.name ?? (flags.brokers ? 'Kafka' : (flags.store ?? 'the store'));
    },
    async append(records: Capture[]) {
      log ??= await openLog(captureKind, logOptionsFrom(flags));
      await log.append(records);
    },
  };
  try {
    const summary = await importCaptures(readers[format](chunks(), source, file), sink, { redaction: redactionFrom(flags), onProgress: (counts) => progress.tell(counts.imported) });
    progress.done(summary.imported);
    const reasons = Object.entries(summary.reasons).map(([reason, n]) => `${n} ${reason}`);
    process.stdout.write(
      `imported ${summary.imported} captures from ${basename(file)} into ${sink.name}` +
        (summary.skipped > 0 ? `; skipped ${summary.skipped}: ${reasons.join(', ')}` : '') +
        '\n',
    );
  } finally {
    await log?.close();
  }
  return 0;
}

/** Progress on stderr: bytes read of the file and captures written, at most once a second, and a last line at the end. */
class ImportProgress {
  private readonly started = Date.now();
  private lastMs = this.started;

  constructor(
    private readonly name: string,
    private readonly size: number,
    private readonly bytesRead: () => number,
  ) {}

  tell(imported: number): void {
    const now = Date.now();
    if (now - this.lastMs < progressEveryMs) return;
    this.lastMs = now;
    this.write(imported, false);
  }

  /** The last line, always: what was read and written in the end. */
  done(imported: number): void {
    this.write(imported, true);
  }

  private write(imported: number, last: boolean): void {
    const mib = (bytes: number) => (bytes / (1024 * 1024)).toFixed(1);
    const share = this.size > 0 ? Math.min(100, Math.floor((100 * this.bytesRead()) / this.size)) : 100;
    const line = `import ${this.name}: ${share}% (${mib(this.bytesRead())} of ${mib(this.size)} MiB), ${imported} captures, ${((Date.now() - this.started) / 1000).toFixed(0)} s`;
    // A terminal gets one line rewritten in place; a log file a line each time.
    process.stderr.write(process.stderr.isTTY ? `\r${line}${last ? '\n' : ''}` : `${line}\n`);
  }
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
  addLogOptions(command.addOption(storePartitionsOption()))
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
