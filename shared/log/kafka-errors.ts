export function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** kafkajs wraps the failure that ended its retries (a refused connection, a timeout) as non-retriable; the original says whether it may pass. */
export function isTransient(error: unknown): boolean {
  let root = error as { retriable?: boolean; name?: string; cause?: unknown } | undefined;
  while (root?.cause) root = root.cause as typeof root;
  return root?.retriable === true || (error as Error)?.name === 'KafkaJSNumberOfRetriesExceeded';
}

// kafkajs's names of Kafka's NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS and COORDINATOR_NOT_AVAILABLE.
const coordinatorStarting = new Set(['NOT_COORDINATOR_FOR_GROUP', 'GROUP_LOAD_IN_PROGRESS', 'GROUP_COORDINATOR_NOT_AVAILABLE']);

/** A group coordinator that is still being elected or loading its offsets (a fresh or just-restarted broker): it passes within seconds. */
export function isCoordinatorStarting(error: unknown): boolean {
  for (let e = error as { type?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.type !== undefined && coordinatorStarting.has(e.type)) return true;
  }
  return false;
}
