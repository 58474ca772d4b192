import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReplayProgress } from '../replay/progress.js';
import { formatDuration, formatProgress, ProgressReporter } from '../replay/progress-reporter.js';

const progress = (over: Partial<ReplayProgress>): ReplayProgress => ({
  elapsedMs: 0,
  read: 0,
  sent: 0,
  errors: 0,
  skipped: 0,
  dropped: 0,
  inFlight: 0,
  fraction: null,
  lagMs: null,
  circuitOpen: false,
  ...over,
});

class Sink {
  text = '';
  constructor(readonly isTTY: boolean) {}
  write(chunk: string) {
    this.text += chunk;
    return true;
  }
}

describe('progress reporter', () => {
  it('shows a bar and an ETA when the window is known, lag and an open circuit when there are', () => {
    const line = formatProgress('replay', progress({ elapsedMs: 10_000, sent: 500, fraction: 0.25, errors: 2 }), 50);
    assert.match(line, /\[#####---------------\] 25%/);
    assert.match(line, /sent 500 {2}50\/s {2}errors 2/);
    assert.match(line, /ETA 30s/);
    const live = formatProgress('replay', progress({ lagMs: 1500, circuitOpen: true, dropped: 3 }), 0);
    assert.doesNotMatch(live, /ETA|\[/);
    assert.match(live, /dropped 3/);
    assert.match(live, /lag 2s/);
    assert.match(live, /CIRCUIT OPEN/);
  });

  it('redraws one line on a terminal and logs a line every few seconds elsewhere', () => {
    const tty = new Sink(true);
    const onTty = new ProgressReporter(tty, 'replay');
    for (let i = 1; i <= 3; i++) onTty.update(progress({ elapsedMs: i * 250, sent: i * 10 }));
    onTty.finish();
    assert.equal(tty.text.split('\r\x1b[2K').length - 1, 3);
    assert.equal(tty.text.split('\n').length - 1, 1);
    assert.match(tty.text, /40\/s/, 'rate from the change between updates');

    const plain = new Sink(false);
    const onFile = new ProgressReporter(plain, 'replay');
    for (let i = 1; i <= 40; i++) onFile.update(progress({ elapsedMs: i * 250, sent: i }));
    onFile.finish();
    assert.equal(plain.text.split('\n').length - 1, 2, '10 s of updates give two lines, 5 s apart');
    assert.doesNotMatch(plain.text, /\r/);
  });

  it('formats durations for people', () => {
    assert.equal(formatDuration(250), '250ms');
    assert.equal(formatDuration(42_000), '42s');
    assert.equal(formatDuration(125_000), '2m05s');
    assert.equal(formatDuration(3_720_000), '1h02m');
  });
});
