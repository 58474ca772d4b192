import { hostname } from 'node:os';
import { Command, Option } from 'commander';
import type { Logger } from 'pino';
import { createCaptureLogger } from '../../capture/capture-logger.js';
import { captureServerDefaults, recorderDefaults } from '../../capture/capture-options.js';
import { createCapture } from '../../capture/capture-server.js';
import { mirrorMode } from '../../capture/mirror-handler.js';
import { proxyMode } from '../../capture/proxy-handler.js';
import { usageError } from '../../shared/errors.js';
import { openLogForAppending } from '../../shared/log/open-log.js';
import { captureKind } from '../../shared/log/record-log.js';
import { addRedactionOptions, redactionFrom, type RedactionFlags } from '../redaction-flags.js';
import { storePartitionsOption } from '../store-partitions-option.js';
import { action, addLogOptions, logOptionsFrom, parseList, parseListen, parseNonNegative, parsePositiveInt, parseRate, parseUrl } from '../common.js';


interface CaptureFlags extends RedactionFlags {
  listen: string;
  upstream?: string;
  mirrorTarget?: boolean;
  service: string;
  agent: string;
  maxBody: number;
  requestIdHeader: string;
  forwardRequestId?: boolean;
  rewriteHost?: boolean;
  sampleRate: number;
  sampleBy?: string;
  onlyMethods?: string[];
  skipMethods?: string[];
  onlyPaths?: string[];
  skipPaths?: string[];
  queueBytes: number;
  spoolDir: string;
  spoolBytes: number;
  drainTimeout: number;
  upstreamTimeout: number;
  metricsListen?: string;
  logLevel: string;
  brokers?: string;
  store?: string;
  topicPrefix?: string;
  partitions?: number;
  storePartitions?: number;
}

function waitForStopSignal(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'stopping: no new connections, draining captures');
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

async function runCapture(flags: CaptureFlags): Promise<number> {
  if (Boolean(flags.upstream) === Boolean(flags.mirrorTarget)) {
    throw usageError('capture needs either --upstream <url> (reverse proxy) or --mirror-target (receive mirrored copies), not both');
  }
  const listen = parseListen(flags.listen);
  const mode = flags.upstream
    ? proxyMode({
        upstream: parseUrl(flags.upstream, '--upstream').toString(),
        forwardRequestId: flags.forwardRequestId,
        rewriteHost: flags.rewriteHost,
        upstreamTimeoutMs: flags.upstreamTimeout * 1000,
      })
    : mirrorMode();
  const metrics = flags.metricsListen ? parseListen(flags.metricsListen, '--metrics-listen') : undefined;
  const logger = createCaptureLogger(flags.logLevel);
  const redaction = redactionFrom(flags);
  // Kafka is reached in the background: capture serves from its first second whatever the log's state.
  const log = await openLogForAppending(captureKind, logOptionsFrom(flags));
  const server = await createCapture({
    mode,
    host: listen.host,
    port: listen.port,
    sink: log,
    service: flags.service,
    agent: flags.agent,
    maxBodyBytes: flags.maxBody,
    requestIdHeader: flags.requestIdHeader,
    redaction,
    sampling: {
      rate: flags.sampleRate,
      by: flags.sampleBy,
      allowMethods: flags.onlyMethods,
      denyMethods: flags.skipMethods,
      allowPaths: flags.onlyPaths,
      denyPaths: flags.skipPaths,
    },
    queue: { memoryBytes: flags.queueBytes, spoolDir: flags.spoolDir, spoolBytes: flags.spoolBytes },
    drainTimeoutMs: flags.drainTimeout * 1000,
    metricsHost: metrics?.host,
    metricsPort: metrics?.port,
    logger,
  }).catch(async (error: unknown) => {
    await log.close();
    throw error;
  });
  await waitForStopSignal(logger);
  await server.close();
  await log.close();
  return 0;
}

export function registerCapture(program: Command): void {
  const command = program
    .command('capture')
    .description("record live traffic: a reverse proxy in front of stable (stable's answers pass through untouched), or a target for mirrored copies")
    .addOption(new Option('--listen <addr>', 'address to listen on, [host]:port').default(':8080'))
    .addOption(new Option('--upstream <url>', "stable's URL; requests are forwarded there (reverse-proxy mode)").conflicts('mirrorTarget'))
    .option('--mirror-target', 'receive copies from Istio/Envoy, nginx mirror or GoReplay; answer 200 and record requests only')
    .addOption(new Option('--service <name>', 'service name recorded with each capture').default(recorderDefaults.service))
    .addOption(new Option('--agent <name>', 'agent name recorded with each capture').default(hostname(), 'the host name'))
    .addOption(
      new Option('--max-body <bytes>', 'bodies are recorded up to this many bytes (the real size is kept)')
        .default(recorderDefaults.maxBodyBytes)
        .argParser((v) => parsePositiveInt(v, '--max-body')),
    )
    .addOption(new Option('--request-id-header <name>', 'header holding the request id').default(recorderDefaults.requestIdHeader))
    .option('--forward-request-id', 'send the generated request id to stable when the request had none')
    .option('--rewrite-host', "send stable the --upstream URL's host as Host, as nginx's proxy_pass does (default: the client's Host, as a sidecar keeps it)")
    .addOption(
      new Option('--sample-rate <fraction>', 'fraction of requests recorded, 0..1').default(recorderDefaults.sampling.rate).argParser((v) => parseRate(v, '--sample-rate')),
    )
    .addOption(new Option('--sample-by <key>', 'sample consistently by header:<name>, query:<name> or cookie:<name> (else at random)'))
    .addOption(new Option('--only-methods <list>', 'record only these methods, e.g. GET,HEAD').argParser(parseList))
    .addOption(new Option('--skip-methods <list>', 'never record these methods').argParser(parseList))
    .addOption(new Option('--only-paths <globs>', 'record only matching paths, e.g. /api/**').argParser(parseList))
    .addOption(new Option('--skip-paths <globs>', 'never record matching paths, e.g. /health,/metrics').argParser(parseList));
  addRedactionOptions(command)
    .addOption(
      new Option('--queue-bytes <bytes>', 'bound of the in-memory capture queue')
        .default(recorderDefaults.queue.memoryBytes)
        .argParser((v) => parsePositiveInt(v, '--queue-bytes')),
    )
    .addOption(new Option('--spool-dir <dir>', 'disk spool used while the log is slow or down').default('.shadowtap/spool'))
    .addOption(
      new Option('--spool-bytes <bytes>', 'bound of the disk spool; beyond it captures are dropped and counted')
        .default(recorderDefaults.queue.spoolBytes)
        .argParser((v) => parsePositiveInt(v, '--spool-bytes')),
    )
    .addOption(
      new Option('--drain-timeout <seconds>', 'on SIGTERM, how long to finish requests and deliver queued captures')
        .default(captureServerDefaults.drainTimeoutMs / 1000)
        .argParser((v) => parseNonNegative(v, '--drain-timeout')),
    )
    .addOption(
      new Option('--upstream-timeout <seconds>', 'stable silent this long (before its answer starts, or mid-body) ends the request: the client gets 504, the capture records the timeout')
        .default(captureServerDefaults.upstreamTimeoutMs / 1000)
        .argParser((v) => parseNonNegative(v, '--upstream-timeout')),
    )
    .addOption(new Option('--metrics-listen <addr>', 'admin address serving Prometheus /metrics and the probes /healthz and /readyz, e.g. :9464'))
    .addOption(new Option('--log-level <level>', 'log level of the JSON logs on stderr').choices(['debug', 'info', 'warn', 'error']).default('info'));
  addLogOptions(command.addOption(storePartitionsOption()))
    .addHelpText(
      'after',
      `
Examples:
  shadowtap capture --listen :8080 --upstream http://stable:8080 --metrics-listen :9464
  shadowtap capture --mirror-target --listen :8081 --brokers kafka:9092 --sample-rate 0.1 --sample-by header:x-user-id`,
    )
    .action(action((flags: CaptureFlags) => runCapture(flags)));
}
