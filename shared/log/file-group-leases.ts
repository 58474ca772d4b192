import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Which worker of a group owns which partition of a file-log store, with files only: the group
 * coordination Kafka's consumer groups give, for workers on one machine (or on a shared file
 * system whose clocks agree).
 *
 * Each member refreshes its file in `members/` every beat; a member whose file is older than the
 * session timeout is gone. Partition numbers are dealt round robin over the live members sorted
 * by id, as the Kafka co-partitioning assignor deals them. A partition is held by the newest
 * lease file `leases/<partition>.<epoch>`: a member takes a free or expired partition by creating
 * the next epoch's file with O_EXCL (of two members racing, one wins), keeps it by refreshing
 * its time every beat, and hands it over by setting its time to the epoch (expired at once)
 * once its worker closed it.
 * A holder that could not refresh its lease for half a session holds it no more (holds()), so a
 * worker that stalled cannot commit over the one that took its partition.
 */
export class FileGroupLeases {
  private readonly held = new Map<number, { epoch: number; refreshedMs: number }>();
  private share = new Set<number>();
  private readonly memberFile: string;

  private constructor(
    private readonly dir: string,
    readonly memberId: string,
    private readonly partitionCount: number,
    private readonly sessionMs: number,
  ) {
    this.memberFile = join(dir, 'members', memberId);
  }

  static async join(dir: string, partitionCount: number, sessionMs: number): Promise<FileGroupLeases> {
    await mkdir(join(dir, 'members'), { recursive: true });
    await mkdir(join(dir, 'leases'), { recursive: true });
    const memberId = `${Date.now().toString(36).padStart(10, '0')}-${process.pid}-${randomBytes(3).toString('hex')}`;
    const leases = new FileGroupLeases(dir, memberId, partitionCount, sessionMs);
    await writeFile(leases.memberFile, '');
    return leases;
  }

  /**
   * One beat: refreshes this member and its leases, takes free partitions of its share, and
   * returns the partitions of its share it holds. A held partition past its share stays held
   * (and refreshed) until handOver(): its owner may still be committing it.
   */
  async beat(): Promise<number[]> {
    const now = Date.now();
    await utimes(this.memberFile, new Date(now), new Date(now)).catch(() => writeFile(this.memberFile, ''));
    const members = await this.liveMembers(now);
    const share = new Set(Array.from({ length: this.partitionCount }, (_, p) => p).filter((p) => members[p % members.length] === this.memberId));
    const leases = await this.newestLeases();
    for (let partition = 0; partition < this.partitionCount; partition++) {
      const newest = leases.get(partition);
      const mine = this.held.get(partition);
      if (mine && newest?.epoch !== mine.epoch) this.held.delete(partition);
      else if (mine) {
        // Kept until handOver(): a partition is given up once its owner stopped committing it.
        await utimes(newest!.path, new Date(now), new Date(now));
        mine.refreshedMs = now;
      } else if (share.has(partition) && (!newest || newest.mtimeMs < now - this.sessionMs)) await this.take(partition, (newest?.epoch ?? 0) + 1, now);
    }
    this.share = share;
    return [...this.held.keys()].filter((p) => share.has(p)).sort((a, b) => a - b);
  }

  /** Gives a partition up, once its owner closed it, when it is another member's share now. */
  async handOver(partition: number): Promise<void> {
    if (this.held.has(partition) && !this.share.has(partition)) await this.release(partition);
  }

  /** Whether this member still holds the partition: its lease is the newest and was refreshed within half a session. */
  async holds(partition: number): Promise<boolean> {
    const mine = this.held.get(partition);
    if (!mine || Date.now() - mine.refreshedMs > this.sessionMs / 2) return false;
    return (await this.newestLeases()).get(partition)?.epoch === mine.epoch;
  }

  /** Hands every partition over and leaves the group. */
  async leave(): Promise<void> {
    for (const partition of [...this.held.keys()]) await this.release(partition);
    await unlink(this.memberFile).catch(() => undefined);
  }

  private async release(partition: number): Promise<void> {
    const mine = this.held.get(partition)!;
    this.held.delete(partition);
    await utimes(this.leasePath(partition, mine.epoch), new Date(0), new Date(0)).catch(() => undefined);
  }

  private async take(partition: number, epoch: number, now: number): Promise<void> {
    try {
      const handle = await open(this.leasePath(partition, epoch), 'wx');
      await handle.writeFile(this.memberId);
      await handle.close();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
      throw error;
    }
    this.held.set(partition, { epoch, refreshedMs: now });
    // Older epochs say nothing any more.
    for (const name of await readdir(join(this.dir, 'leases'))) {
      const lease = leaseOf(name);
      if (lease?.partition === partition && lease.epoch < epoch) await unlink(join(this.dir, 'leases', name)).catch(() => undefined);
    }
  }

  private leasePath(partition: number, epoch: number): string {
    return join(this.dir, 'leases', `${partition}.${epoch}`);
  }

  private async liveMembers(now: number): Promise<string[]> {
    const names = await readdir(join(this.dir, 'members'));
    const live: string[] = [];
    for (const name of names) {
      const info = await stat(join(this.dir, 'members', name)).catch(() => undefined);
      if (info && info.mtimeMs >= now - this.sessionMs) live.push(name);
    }
    if (!live.includes(this.memberId)) live.push(this.memberId);
    return live.sort();
  }

  /** The newest lease of each partition: its epoch, file and last refresh. */
  private async newestLeases(): Promise<Map<number, { epoch: number; path: string; mtimeMs: number }>> {
    const newest = new Map<number, { epoch: number; path: string; mtimeMs: number }>();
    for (const name of await readdir(join(this.dir, 'leases'))) {
      const lease = leaseOf(name);
      if (!lease) continue;
      const { partition, epoch } = lease;
      if ((newest.get(partition)?.epoch ?? 0) >= epoch) continue;
      const path = join(this.dir, 'leases', name);
      const info = await stat(path).catch(() => undefined);
      if (info) newest.set(partition, { epoch, path, mtimeMs: info.mtimeMs });
    }
    return newest;
  }
}

/** The partition and epoch a lease file's name (`<partition>.<epoch>`) gives. */
function leaseOf(name: string): { partition: number; epoch: number } | undefined {
  const match = /^(\d+)\.(\d+)$/.exec(name);
  return match ? { partition: Number(match[1]), epoch: Number(match[2]) } : undefined;
}
