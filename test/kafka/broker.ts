import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { packageRoot } from '../../shared/package-root.js';

/**
 * A real single-node Apache Kafka broker (KRaft, broker + controller in one JVM) for tests and
 * development. The official jars come from Maven Central through Maven; no Docker needed.
 */

const kafkaVersion = '3.9.1';
/** A JVM on a busy 2-core machine can take a while to open its listeners. */
const startTimeoutMs = 120_000;
const stopTimeoutMs = 15_000;

export interface KafkaBroker {
  /** Bootstrap address, `127.0.0.1:PORT`. */
  readonly brokers: string;
  /** Crashes the broker (SIGKILL) but keeps its data and ports, so `start()` can bring it back. */
  kill(): Promise<void>;
  /** Starts the broker again on the same data dir and port; resolves when it serves requests. */
  start(): Promise<void>;
  /** Shuts the broker down (SIGTERM, then SIGKILL after a deadline) and removes its data. */
  stop(): Promise<void>;
}

function cacheDir(): string {
  return join(process.env.SHADOWTAP_CACHE ?? join(homedir(), '.cache', 'shadowtap'), `kafka-${kafkaVersion}`, 'libs');
}

/** Downloads the broker jars once into the cache; returns the folder holding them. */
export async function ensureKafkaJars(): Promise<string> {
  const libs = cacheDir();
  const marker = join(libs, `kafka_2.13-${kafkaVersion}.jar`);
  if (existsSync(marker)) return libs;
  // Download beside the cache and move it in whole, so an interrupted download is never taken for a complete one.
  const partial = `${libs}.partial-${process.pid}`;
  const pom = join(packageRoot(), 'test', 'kafka', 'pom.xml');
  const args = ['-q', '-B', '-f', pom, 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${partial}`];
  await new Promise<void>((resolve, reject) => {
    execFile('mvn', args, { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (!error) return resolve();
      const output = `${stdout}${stderr}`.trimEnd().split('\n').slice(-40).join('\n');
      reject(new Error(`fetching the Kafka broker jars with Maven failed (mvn ${args.join(' ')}):\n${output || error.message}`));
    });
  }).catch(async (error) => {
    await rm(partial, { recursive: true, force: true });
    throw error;
  });
  await rm(libs, { recursive: true, force: true });
  await rename(partial, libs).catch(async (error) => {
    // Another process finished the same download first.
    await rm(partial, { recursive: true, force: true });
    if (!existsSync(marker)) throw error;
  });
  return libs;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A Kafka cluster id: 16 random bytes as unpadded base64url, not starting with '-' (the CLI would read it as a flag). */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function tail(file: string, lines = 40): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

function run(command: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (!error) return resolve();
      reject(new Error(`${command} ${args.join(' ')} failed:\n${`${stdout}${stderr}`.trimEnd() || error.message}`));
    });
  });
}

async function writeConfig(dir: string, port: number, controllerPort: number, options: KafkaBrokerOptions): Promise<void> {
  const properties = {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': join(dir, 'data'),
    'offsets.topic.replication.factor': '1',
    // Fewer internal partitions: the first group of a fresh broker is ready sooner on 2 cores.
    'offsets.topic.num.partitions': '5',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'transaction.state.log.num.partitions': '5',
    'group.initial.rebalance.delay.ms': String(options.groupInitialRebalanceDelayMs ?? 0),
    'num.partitions': '3',
    'auto.create.topics.enable': 'false',
    // After a crash, the restarted broker may only register once its old session expired.
    'broker.heartbeat.interval.ms': '500',
    'broker.session.timeout.ms': '3000',
  };
  await writeFile(
    join(dir, 'server.properties'),
    Object.entries(properties).map(([key, value]) => `${key}=${value}`).join('\n') + '\n',
  );
  await writeFile(
    join(dir, 'log4j.properties'),
    [
      'log4j.rootLogger=WARN, file',
      'log4j.appender.file=org.apache.log4j.FileAppender',
      `log4j.appender.file.File=${join(dir, 'broker.log')}`,
      'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
      '',
    ].join('\n'),
  );
}

/** Resolves once the broker answers a metadata request, i.e. really serves clients. */
async function waitUntilServing(brokers: string, exited: () => boolean): Promise<void> {
  const kafka = new Kafka({
    clientId: 'shadowtap-test-broker',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    retry: { retries: 0 },
  });
  const deadline = Date.now() + startTimeoutMs;
  while (!exited() && Date.now() < deadline) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.listTopics();
      return;
    } catch {
      await delay(250);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
  throw new Error(exited() ? 'exited during startup' : `did not serve requests within ${startTimeoutMs / 1000} s`);
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export interface KafkaBrokerOptions {
  /** 0 unless given, so tests' groups form at once; Kafka's own default (production's) is 3000. */
  groupInitialRebalanceDelayMs?: number;
}

/**
 * Formats a fresh data dir, starts a broker on free ports and waits until it serves requests;
 * `dataDir` holds its partitions' segments (`<topic>-<partition>/`). A free port can be taken by
 * another process between our check and the broker's bind: that start is retried on new ports.
 */
export async function startKafkaBroker(options: KafkaBrokerOptions = {}): Promise<KafkaBroker & { readonly dataDir: string }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnFreePorts(options);
    } catch (error) {
      const portTaken = /BindException|Address already in use|Unable to start acceptor/.test((error as Error).message);
      if (!portTaken || attempt === 3) throw error;
    }
  }
}

async function startOnFreePorts(options: KafkaBrokerOptions): Promise<KafkaBroker & { readonly dataDir: string }> {
  const libs = await ensureKafkaJars();
  const classpath = `${libs}/*`;
  const dir = await mkdtemp(join(tmpdir(), 'shadowtap-kafka-'));
  const port = await freePort();
  const controllerPort = await freePort();
  const brokers = `127.0.0.1:${port}`;
  const log4j = `-Dlog4j.configuration=file:${join(dir, 'log4j.properties')}`;
  const consoleFile = join(dir, 'console.log');
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const out = openSync(consoleFile, 'a');
    const jvm = spawn('java', ['-Xmx512m', '-Xms256m', log4j, '-cp', classpath, 'kafka.Kafka', 'server.properties'], {
      cwd: dir,
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    child = jvm;
    // Never leave a broker behind when the test process ends without calling stop().
    const killOnExit = () => jvm.kill('SIGKILL');
    process.once('exit', killOnExit);
    let exited = false;
    jvm.once('exit', () => {
      exited = true;
      process.off('exit', killOnExit);
    });
    jvm.once('error', () => (exited = true));
    try {
      await waitUntilServing(brokers, () => exited);
    } catch (error) {
      jvm.kill('SIGKILL');
      const logs = [tail(join(dir, 'broker.log')), tail(consoleFile)].filter(Boolean).join('\n');
      throw new Error(`Kafka broker at ${brokers} ${(error as Error).message}. End of its log:\n${logs}`);
    }
  };

  const kill = async (): Promise<void> => {
    if (!child) return;
    child.kill('SIGKILL');
    await waitForExit(child, stopTimeoutMs);
    child = undefined;
  };

  const stop = async (): Promise<void> => {
    if (child) {
      child.kill('SIGTERM');
      if (!(await waitForExit(child, stopTimeoutMs))) await kill();
      child = undefined;
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await writeConfig(dir, port, controllerPort, options);
    await run('java', [log4j, '-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', 'server.properties'], dir);
    await start();
  } catch (error) {
    await stop();
    throw error;
  }
  return { brokers, dataDir: join(dir, 'data'), kill, start, stop };
}
