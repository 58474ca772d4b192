import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { request } from 'undici';
import { startCaptureServer } from '../capture/capture-server.js';
import { runReplay } from '../replay/replay-worker.js';
import { openFileLog } from '../shared/log/file-log.js';
import { captureKind, resultKind } from '../shared/log/record-log.js';
import { seconds, startJsonServer } from './fixtures.js';
import { load } from './load.js';
import { freePort } from '../test/helpers/free-port.js';

/**
 * A shadow that takes 200 ms to answer: client p99 through nginx's `mirror` (the article's
 * sidecar config) against client p99 through shadowtap (capture in front of stable, replay
 * --follow sending to the shadow). nginx holds a keep-alive client's next request until the
 * mirror subrequest ends; shadowtap never makes a user wait for the shadow.
 *   node dist/bench/mirror-vs-nginx.js      (needs nginx: apt-get install nginx-light)
 */
const duration = seconds(15);
const rate = 200;
if (spawnSync('nginx', ['-v']).error) {
  console.log('nginx is not installed (apt-get install nginx-light); nothing measured.');
  process.exit(0);
}
const stable = await startJsonServer();
const shadow = await startJsonServer(200);
const work = await mkdtemp(join(tmpdir(), 'shadowtap-nginx-'));
try {
  const direct = await load('stable directly', stable.url, { seconds: duration, connections: 10, overallRate: rate });
  const nginx = await startNginx(work, stable.url, shadow.url);
  const viaNginx = await load('nginx mirror', nginx.url, { seconds: duration, connections: 10, overallRate: rate });
  nginx.stop();

  const captures = await openFileLog(captureKind, { dir: work, pollMs: 5 });
  const results = await openFileLog(resultKind, { dir: work });
  const capture = await startCaptureServer({ port: 0, upstream: stable.url, sink: captures, logger: pino({ level: 'warn' }) });
  const stop = new AbortController();
  const replaying = runReplay({ source: captures, results, target: shadow.url, follow: true, signal: stop.signal, concurrency: 256 });
  const viaShadowtap = await load('shadowtap capture + replay --follow', capture.url, { seconds: duration, connections: 10, overallRate: rate });
  await capture.close();
  stop.abort();
  const replay = await replaying;
  await captures.close();
  await results.close();

  console.log(`shadow answers in 200 ms; ${rate} requests/s over 10 keep-alive connections for ${duration} s`);
  console.log('| path | req/s | client p50 ms | client p99 ms | errors | p99 vs stable directly |');
  console.log('|---|---|---|---|---|---|');
  for (const row of [direct, viaNginx, viaShadowtap]) {
    console.log(`| ${row.name} | ${row.requestsPerSecond.toFixed(0)} | ${row.p50Ms} | ${row.p99Ms} | ${row.errors} | ${(row.p99Ms / Math.max(direct.p99Ms, 1)).toFixed(1)} |`);
  }
  console.log(`shadowtap replay sent ${replay.sent} requests to the shadow, shadow p99 ${replay.shadowLatencyMs.p99} ms`);
} finally {
  await stable.close();
  await shadow.close();
  await rm(work, { recursive: true, force: true });
}


/** nginx with the article's mirror sidecar configuration, in the foreground, on a free port. */
async function startNginx(dir: string, stableUrl: string, shadowUrl: string): Promise<{ url: string; stop(): void }> {
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  await writeFile(
    conf,
    `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream stable { server ${new URL(stableUrl).host}; keepalive 32; }
  upstream shadow { server ${new URL(shadowUrl).host}; keepalive 32; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://stable;
      proxy_http_version 1.1; proxy_set_header Connection "";
      mirror /mirror;
      mirror_request_body on;
    }
    location = /mirror {
      internal;
      proxy_pass http://shadow$request_uri;
      proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header X-Mirrored-Request "true";
    }
  }
}
`,
  );
  const child = spawn('nginx', ['-c', conf, '-p', dir], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      await (await request(url)).body.dump();
      break;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return { url, stop: () => child.kill('SIGTERM') };
}
